"""Install the packages requirements.txt names from deps/ (the offline `npm install`)."""

import compileall
import shutil
import site
import sys
from pathlib import Path

target = Path(site.getsitepackages()[0])  # /usr/local/lib/python3.X/dist-packages on Debian
for line in Path(sys.argv[1]).read_text().splitlines():
    name = line.split("#")[0].strip()
    if name:
        shutil.copytree(Path("deps") / name, target / name, dirs_exist_ok=True)
        compileall.compile_dir(target / name, quiet=1)
        print(f"installed {name} into {target}")
