#!/usr/bin/env bash
# The zip budgets of bench/budgets, on what `sam build` made: each function's
# bootstrap zipped the way `sam deploy` uploads it (deflate). Zips of the same
# binary are the same size, so the check is exact. Part of `make build`.
#   scripts/check-zip-sizes.sh [BUILD_DIR]   (default .aws-sam/build)
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "${1:-.aws-sam/build}" bench/budgets <<'PYTHON'
import io, pathlib, re, sys, zipfile

build, budgets_file = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
units = {"B": 1, "kB": 1e3, "MB": 1e6, "KiB": 1024, "MiB": 1024 * 1024}

# FUNCTION zip LIMIT [pending]; a function without a line of its own takes the '*' one.
budgets = {}
for number, line in enumerate(budgets_file.read_text().splitlines(), 1):
    words = line.split("#")[0].split()
    if len(words) < 3 or words[1] != "zip":
        continue
    match = re.fullmatch(r"([0-9.]+)(B|kB|MB|KiB|MiB)", words[2])
    if not match or len(words) > 4 or words[3:] not in ([], ["pending"]):
        sys.exit(f"{budgets_file}, line {number}: expected FUNCTION zip SIZE [pending]: {line}")
    budgets[words[0]] = (float(match[1]) * units[match[2]], words[2], words[3:] == ["pending"])

functions = sorted(p.parent.name for p in build.glob("*/bootstrap"))
if not functions:
    sys.exit(f"no {build}/*/bootstrap: run sam build first")
failed = False
for function in functions:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(build / function / "bootstrap", "bootstrap")
    size = len(data.getvalue())
    limit = budgets.get(function, budgets.get("*"))
    if limit is None:
        print(f"{function:<22} {size / 1e6:6.2f} MB  (no budget)")
        continue
    bytes_, written, pending = limit
    verdict = "PASS" if size <= bytes_ else ("FAIL (pending: not enforced)" if pending else "FAIL")
    failed |= size > bytes_ and not pending
    print(f"{function:<22} {size / 1e6:6.2f} MB  budget {written:<7} {verdict}")
if failed:
    sys.exit("zip budgets missed (bench/budgets)")
PYTHON
