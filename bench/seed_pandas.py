"""The seed workflow converter was built to replace: pandas, whole files in memory, pairs by index.

Kept as the parity reference (tests/test_parity.py) and as a benchmark baseline.
Usage: python bench/seed_pandas.py EN.json JA.json N OUT.json
"""

import json
import sys

import pandas as pd

en_path, ja_path, limit, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
en = pd.read_json(en_path)
ja = pd.read_json(ja_path)
records = []
for i in range(min(limit, len(en), len(ja))):
    for df, suffix, name in ((en, "EN", "English"), (ja, "JA", "Japanese")):
        row = df.iloc[i]
        records.append(
            {
                "seq": f"{i}{suffix}",
                "reasoning": f"AI assistant should reply in {name} language.",
                "instruction": row["instruction"],
                "input": row["input"],
                "output": row["output"],
            }
        )
with open(out_path, "w", encoding="utf-8") as f:
    json.dump(records, f, ensure_ascii=False, indent=2)
