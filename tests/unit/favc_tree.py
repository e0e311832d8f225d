"""Test helper: a tiny tree in the exact FakeAVCeleb v1.2 layout (+ meta_data.csv with its header quirk)."""

from __future__ import annotations

from pathlib import Path

HEADER = "source,target1,target2,method,category,type,race,gender,path,\n"
ETHNICITIES = ["African", "Asian (East)", "Caucasian (European)"]
LETTER = {"RealVideo-RealAudio": "A", "RealVideo-FakeAudio": "B", "FakeVideo-RealAudio": "C",
          "FakeVideo-FakeAudio": "D"}

# (category, method, subcategory, file-name template); {n}: clip number, {o}: another identity
CLIPS = [
    ("RealVideo-RealAudio", "real", "RVRA", "{n:05d}.mp4"),
    ("RealVideo-FakeAudio", "rtvc", "RVFA", "{n:05d}_fake.mp4"),
    ("FakeVideo-RealAudio", "wav2lip", "FVRA-WL", "{n:05d}_{o}_wavtolip.mp4"),
    ("FakeVideo-RealAudio", "faceswap", "FVRA-FS", "{n:05d}_{o}_By3wxX0dyDw_faceswap.mp4"),
    ("FakeVideo-RealAudio", "fsgan", "FVRA-GAN", "{n:05d}_{o}_By3wxX0dyDw_id00999.mp4"),
    ("FakeVideo-FakeAudio", "wav2lip", "FVFA-WL", "{n:05d}_{o}_wavtolip.mp4"),
    ("FakeVideo-FakeAudio", "faceswap-wav2lip", "FVFA-FS", "{n:05d}_{o}_By3wxX0dyDw_faceswap_id00225_wavtolip.mp4"),
    ("FakeVideo-FakeAudio", "fsgan-wav2lip", "FVFA-GAN", "{n:05d}_{o}_By3wxX0dyDw_id00305_wavtolip.mp4"),
]


def identities(n: int) -> list[str]:
    return [f"id{i:05d}" for i in range(1, n + 1)]


def build_tree(base: Path, n_ids: int = 10, ethnicity_style: str = "paren", write_csv: bool = True,
               root_name: str = "FakeAVCeleb_v1.2") -> tuple[Path, list[dict]]:
    """Write the tree under ``base/root_name``; return (root, expected rows). Files hold a few bytes only
    (the index never decodes them). ``ethnicity_style``: 'paren' = 'Asian (East)', 'underscore' = 'Asian_East'."""
    root = base / root_name
    rows = []
    ids = identities(n_ids)
    for k, ident in enumerate(ids):
        eth = ETHNICITIES[k % len(ETHNICITIES)]
        folder_eth = eth if ethnicity_style == "paren" else eth.replace(" (", "_").replace(")", "")
        gender = "men" if k % 2 == 0 else "women"
        other = ids[(k + 1) % len(ids)]
        for n, (cat, method, sub, tmpl) in enumerate(CLIPS):
            name = tmpl.format(n=100 + k * 10 + n, o=other)
            folder = root / cat / folder_eth / gender / ident
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(b"\x00" * 8)
            rows.append({"source": ident, "target1": "-" if cat == "RealVideo-RealAudio" else other,
                         "target2": "-", "method": method, "letter": LETTER[cat], "category": cat,
                         "race": eth, "gender": gender, "file": name,
                         "folder": f"FakeAVCeleb/{cat}/{folder_eth}/{gender}/{ident}",
                         "path": str(folder / name), "subcategory": sub})
    if write_csv:
        write_meta(root, rows)
    return root, rows


def write_meta(root: Path, rows: list[dict], header: str = HEADER) -> Path:
    lines = [header]
    for r in rows:
        lines.append(",".join([r["source"], r["target1"], r["target2"], r["method"], r["letter"], r["category"],
                               f'"{r["race"]}"' if "," in r["race"] else r["race"], r["gender"], r["file"],
                               r["folder"]]) + "\n")
    path = root / "meta_data.csv"
    path.write_text("".join(lines))
    return path
