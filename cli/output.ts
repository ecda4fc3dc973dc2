/**
 * Output manners of the `sluice` process as a whole.
 *
 * A reader that stops reading (`sluice runs list | head -1`) closes the pipe; the next write to
 * stdout then fails with EPIPE, which Node raises as an `error` event on process.stdout and,
 * without a listener, as an uncaught exception with a stack trace. A closed pipe means nobody
 * wants the rest of the output: end quietly and successfully, as Unix tools do.
 */
export function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream = process.stdout, exit: (code: number) => void = (c) => process.exit(c)): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') return exit(0);
    // Anything else is a real fault: keep Node's default (an uncaught exception).
    throw e;
  });
}
