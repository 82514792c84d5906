"""Expand datasets/briefs/products.yaml into datasets/briefs/catalog.jsonl (one brief per product,
segment and channel). Deterministic; run it after editing the products."""

import json
from pathlib import Path

import yaml

HERE = Path(__file__).parent / "briefs"


def main() -> None:
    products = yaml.safe_load((HERE / "products.yaml").read_text(encoding="utf-8"))
    lines = []
    for language, items in products.items():
        for item in items:
            for segment, overrides in item["segments"].items():
                attributes = {**item["attributes"], **(overrides or {})}
                for channel in item["channels"]:
                    brief = {
                        "id": f"{language}-{item['key']}-{segment}-{channel}",
                        "language": language,
                        "channel": channel,
                        "product": item["product"],
                        "category": item["category"],
                        "keywords": item["keywords"],
                        "attributes": attributes,
                        "required_attributes": item["required"],
                        "segment": segment,
                        "cta": item["cta"],
                    }
                    lines.append(json.dumps(brief, ensure_ascii=False))
    (HERE / "catalog.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} briefs")


if __name__ == "__main__":
    main()
