"""scikit-learn's HistGradientBoostingClassifier on the files bench/gbdt-vs-sklearn.ts writes.

Reads train/test Parquet, codes each categorical column as Sluice does (the most frequent
`max_categories` values of the training data get codes 0..K-1 by frequency, ties by code point;
others and nulls are missing), fits with the same hyperparameters and prints one JSON line:
{"auc": ..., "fit_s": ..., "cpu_s": ..., "threads": ...}. Only the fit is timed (wall and CPU
seconds of all its threads).
"""
import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_info


def main() -> None:
    spec = json.loads(sys.argv[1])
    train = pd.read_parquet(spec["train"])
    test = pd.read_parquet(spec["test"])
    columns = spec["numeric"] + spec["categorical"]

    def matrix(df: pd.DataFrame, vocab: dict) -> np.ndarray:
        out = np.empty((len(df), len(columns)), dtype=np.float64)
        for j, c in enumerate(columns):
            if c in vocab:
                out[:, j] = df[c].map(vocab[c]).astype("float64").to_numpy()
            else:
                out[:, j] = df[c].astype("float64").to_numpy()
        return out

    vocab = {}
    for c in spec["categorical"]:
        counts = train[c].dropna().value_counts()
        kept = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: spec["max_categories"]]
        vocab[c] = {k: i for i, (k, _) in enumerate(kept)}
    X, Xt = matrix(train, vocab), matrix(test, vocab)
    y, yt = train[spec["target"]].to_numpy().astype(int), test[spec["target"]].to_numpy().astype(int)
    p = spec["params"]
    model = HistGradientBoostingClassifier(
        max_iter=p["nEstimators"],
        learning_rate=p["learningRate"],
        max_leaf_nodes=p["maxLeaves"],
        l2_regularization=p["l2"],
        min_samples_leaf=p["minDataInLeaf"],
        max_bins=p["maxBins"],
        categorical_features=[c in vocab for c in columns],
        early_stopping=False,
        random_state=0,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(X, y)
    fit_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    auc = roc_auc_score(yt, model.predict_proba(Xt)[:, 1])
    threads = max((i.get("num_threads", 1) for i in threadpool_info() if i.get("user_api") == "openmp"), default=1)
    print(json.dumps({"auc": auc, "fit_s": fit_s, "cpu_s": cpu_s, "threads": threads}))


if __name__ == "__main__":
    main()
