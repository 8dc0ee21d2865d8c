"""The work of gis-layer.sh (see its header). Exits non-zero, printing no figures, if a figure cannot be computed."""
import argparse, hashlib, json, os, re, shutil, statistics, subprocess, sys, tempfile, zipfile

MAIN = {"numpy": "2.2.6", "shapely": "2.1.2", "pyproj": "3.7.2", "rasterio": "1.5.2", "fiona": "1.10.1"}  # fallbacks
EPOCH, MiB = (1980, 1, 1, 0, 0, 0), 1024 * 1024
# The runtime emulation's sandbox and environment: the ruleset's AWS Lambda runtime model.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "pants-plugins"))
from serverless_gis.providers import runtime_model  # noqa: E402

LAMBDA_ARGS = runtime_model("aws").docker_run_args((3, 13))
# Lambda's sys.path (as lambda-invoke.py): layer dirs (with .pth processing) before the runtime's entries.
PATHS = """import sys, site, time
rt = list(sys.path)
for d in ("/opt/python/lib/python3.13/site-packages", "/opt/python"): site.addsitedir(d)
sys.path[:] = [p for p in sys.path if p not in rt] + rt
"""
TIMED = PATHS + """t0 = time.perf_counter()
import rasterio, shapely, pyproj, fiona
print("IMPORT", time.perf_counter() - t0)
"""
VERIFY = PATHS + """import json, os, re, numpy, rasterio, shapely, pyproj, fiona, rasterio.crs
assert pyproj.CRS.from_epsg(3857).to_epsg() == 3857 and rasterio.crs.CRS.from_epsg(3857).to_epsg() == 3857
maps = {l.split()[-1] for l in open("/proc/self/maps") if "/" in l}
print(json.dumps({"numpy": numpy.__version__, "shapely": shapely.__version__, "GEOS": shapely.geos_version_string,
  "pyproj": pyproj.__version__, "PROJ": pyproj.proj_version_str, "rasterio": rasterio.__version__,
  "GDAL": rasterio.__gdal_version__, "fiona": fiona.__version__, "fiona GDAL": fiona.__gdal_version__,
  "GDAL/PROJ/GEOS_C libs mapped": len([m for m in maps if re.match(r"lib(gdal|proj|geos_c)[-.]", os.path.basename(m))])}))
"""


def die(msg):
    sys.exit(f"gis-layer: ERROR: {msg}")


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        die(f"{' '.join(cmd[:6])} ... failed ({p.returncode}):\n{(p.stderr or p.stdout)[-3000:]}")
    return p.stdout


def dists(zip_path):
    out = {}
    with zipfile.ZipFile(zip_path) as zf:
        for n in zf.namelist():
            if re.fullmatch(r"python/(lib/python3\.\d+/site-packages/)?[^/]+\.dist-info/METADATA", n):
                meta = dict(re.findall(r"^(Name|Version): (\S+)$", zf.read(n).decode(), re.M))
                out[re.sub(r"[-_.]+", "-", meta["Name"]).lower()] = meta["Version"]
    if set(MAIN) - set(out):
        die(f"{zip_path} has no dist-info for {sorted(set(MAIN) - set(out))}")
    return out


def naive_layer(ours, py, cache, notes):
    """`pip install --target python/` of our layer's versions from PyPI wheels (cp313, manylinux x86_64), zipped."""
    wheels = os.path.join(cache, "wheels")
    os.makedirs(wheels, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"}
    env.update(PIP_CONFIG_FILE=os.devnull, SOURCE_DATE_EPOCH="315532800")  # PyPI only; pip writes hash-based pycs
    target = ["--only-binary=:all:", "--python-version", "3.13", "--implementation", "cp", "--abi", "cp313"] + [
        a for p in [f"manylinux_2_{m}" for m in range(34, 16, -1)] + ["manylinux2014"] for a in ("--platform", p + "_x86_64")]
    pip, index = [py, "-m", "pip", "--disable-pip-version-check"], ["--index-url", "https://pypi.org/simple"]
    pins = {n: ours[n] for n in MAIN}
    for name, fallback in MAIN.items():
        if not any(f.startswith(f"{name}-{pins[name]}-") for f in os.listdir(wheels)) and subprocess.run(
                pip + ["download", "-q", "--no-deps", "-d", wheels, *index, *target, f"{name}=={pins[name]}"],
                env=env, capture_output=True).returncode:
            notes.append(f"no cp313 manylinux wheel of {name} {pins[name]} on PyPI: the naive layer has {fallback}")
            pins[name] = fallback
    cons = {n: v for n, v in ours.items() if n not in MAIN}  # dependencies: our layer's versions too
    out = os.path.join(cache, f"naive-{hashlib.sha256(json.dumps([pins, cons, target]).encode()).hexdigest()[:12]}.zip")
    if not os.path.exists(out):
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            with open(f"{tmp}/constraints.txt", "w") as f:
                f.write("".join(f"{n}=={v}\n" for n, v in cons.items()))
            args = [*target, "-c", f"{tmp}/constraints.txt", *(f"{n}=={v}" for n, v in pins.items())]
            inst = pip + ["install", "-q", "--no-index", "--find-links", wheels, "--target", f"{tmp}/l/python", *args]
            if subprocess.run(inst, env=env, capture_output=True).returncode:  # not all cached: download, retry
                run(pip + ["download", "-q", "-d", wheels, *index, *args], env=env)
                shutil.rmtree(f"{tmp}/l", ignore_errors=True)
                run(inst, env=env)
            write_zip(f"{tmp}/l", out)
    return out, pins


def write_zip(src, out):  # as build_artifact.py: sorted entries, fixed timestamps, deflate -9
    with zipfile.ZipFile(out + ".part", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for rel in sorted(os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs):
            info = zipfile.ZipInfo(rel, date_time=EPOCH)
            info.compress_type, info.create_system = zipfile.ZIP_DEFLATED, 3
            info.external_attr = (0o100755 if os.stat(f"{src}/{rel}").st_mode & 0o111 else 0o100644) << 16
            with open(f"{src}/{rel}", "rb") as f:
                zf.writestr(info, f.read(), compresslevel=9)
    os.replace(out + ".part", out)


def analyze(zip_path, dest):
    """Sizes and duplicates (extra bytes = all copies but the largest); extracts the zip into dest."""
    groups = {}  # ("lib"|"data", name) -> [(dir, size)]
    with zipfile.ZipFile(zip_path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        for i in infos:
            os.chmod(zf.extract(i, dest), 0o755 if (i.external_attr >> 16) & 0o111 else 0o644)
            where, _, base = i.filename.rpartition("/")
            if re.match(r"lib.*\.so(\.|$)", base) and zf.open(i).read(4) == b"\x7fELF":
                name, pkg = base.split(".so")[0], where.rpartition("/")[2]
                while re.search(r"-[0-9a-f]{8}$", name):  # auditwheel's hash(es), then fiona's own -fiona tag
                    name = name[:-9]
                name = name.removesuffix("-" + pkg[:-5]) if pkg.endswith(".libs") else name
                groups.setdefault(("lib", name), []).append((pkg, i.file_size))
            elif base == "proj.db" or re.search(r"(^|/)(gdal_data|proj_data|proj_dir|share/gdal|share/proj)(/|$)", where):
                groups.setdefault(("data", base), []).append((where, i.file_size))
    for d, _, _ in os.walk(dest):
        os.chmod(d, 0o755)  # readable by Lambda's uid
    res = {"zip": zip_path, "files": len(infos), "unzipped_bytes": sum(i.file_size for i in infos),
           "zipped_bytes": os.path.getsize(zip_path), "dup_lib": [], "dup_data": []}
    for (kind, name), copies in sorted(groups.items()):
        if len(copies) > 1:
            sizes = [s for _, s in copies]
            res["dup_" + kind].append({"name": name, "copies": len(copies), "where": sorted(w for w, _ in copies),
                                       "dup_bytes": sum(sizes) - max(sizes)})
    for kind in ("lib", "data"):
        res[f"dup_{kind}_bytes"] = sum(d["dup_bytes"] for d in res["dup_" + kind])
    return res


def libexpat(cache):
    """libexpat.so.1 from the Debian package the toolchain lock pins (bullseye, glibc 2.31), cached."""
    out = os.path.join(cache, "libexpat.so.1")
    if not os.path.exists(out):
        ver = re.search(r"^libexpat1=(\S+)$", open("native/toolchain/bullseye-x86_64.lock").read(), re.M).group(1)
        deb = f"libexpat1_{ver}_amd64.deb"
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            if not any(subprocess.run(["curl", "-fsLo", f"{tmp}/{deb}", f"http://deb.debian.org/{pool}/e/expat/{deb}"])
                       .returncode == 0 for pool in ("debian/pool/main", "debian-security/pool/updates/main")):
                die(f"cannot download {deb} from deb.debian.org")
            run(["dpkg-deb", "-x", f"{tmp}/{deb}", f"{tmp}/x"])
            shutil.copyfile(os.path.realpath(f"{tmp}/x/lib/x86_64-linux-gnu/libexpat.so.1"), out)
    return out


def emulate(image, pytree, opt, code, timed):
    """One fresh python3 -I in the runtime emulation; timed: (import s, process wall s), else (ok, output)."""
    cmd = ["docker", "run", "--rm", "--network", "none", *LAMBDA_ARGS,
           "-v", f"{pytree}:/var/lang:ro", "-v", f"{opt}:/opt:ro", "-w", "/tmp", "-e", f"CODE={code}", image]
    if not timed:
        p = subprocess.run(cmd + ["/var/lang/bin/python3", "-I", "-c", code], capture_output=True, text=True)
        return p.returncode == 0, (p.stdout if p.returncode == 0 else p.stderr).strip()
    sh = 's=$(date +%s%N); /var/lang/bin/python3 -I -c "$CODE" || exit $?; echo WALL $(( $(date +%s%N) - s ))'
    m = re.search(r"^IMPORT (\S+)\nWALL (\d+)$", out := run(cmd + ["/bin/sh", "-c", sh]), re.M)
    return (float(m.group(1)), int(m.group(2)) / 1e9) if m else die(f"no timing in the output:\n{out}")


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--ours", "--python", "--image"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--runs", type=int, default=15), ap.add_argument("--json", default="dist/bench/gis-layer.json")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/serverless-gis/bench"))
    ap.add_argument("--warm", action="store_true", help="do not drop the page cache")
    a = ap.parse_args()
    pytree, notes = os.path.realpath(a.python), [] if a.runs >= 1 else die("--runs must be >= 1")
    os.makedirs(a.cache, exist_ok=True)
    naive_zip, pins = naive_layer(dists(a.ours), f"{pytree}/bin/python3", a.cache, notes)
    work = tempfile.mkdtemp(dir=a.cache, prefix="run-")
    try:
        layers = {"naive": analyze(naive_zip, f"{work}/naive"), "ours": analyze(os.path.realpath(a.ours), f"{work}/ours")}
        ok, out = emulate(a.image, pytree, f"{work}/naive", VERIFY, False)
        if not ok and "libexpat.so.1" in out:  # the rasterio/fiona wheels need a system libexpat: AL2023 has none
            notes.append(f"the pip-only naive layer does not import on Lambda AL2023 ({out.splitlines()[-1]}); "
                         "naive = it + lib/libexpat.so.1, the usual fix (e.g. developmentseed/eoapi-cdk#182)")
            if not os.path.exists(naive_zip := naive_zip[:-4] + "-libexpat.zip"):
                os.makedirs(f"{work}/naive/lib")
                shutil.copyfile(libexpat(a.cache), f"{work}/naive/lib/libexpat.so.1")
                write_zip(f"{work}/naive", naive_zip)
            shutil.rmtree(f"{work}/naive")
            layers["naive"] = analyze(naive_zip, f"{work}/naive")
        for k, v in layers.items():
            ok, out = emulate(a.image, pytree, f"{work}/{k}", VERIFY, False)
            v["versions"] = json.loads(out.splitlines()[-1]) if ok else die(f"the {k} layer does not import:\n{out[-3000:]}")
            v["import_s"], v["wall_s"] = [], []
        for r in range(a.runs):
            for k in (("naive", "ours") if r % 2 == 0 else ("ours", "naive")):  # alternate against drift
                if not a.warm:
                    os.sync()
                    with open("/proc/sys/vm/drop_caches", "w") as f:
                        f.write("3\n")
                imp, wall = emulate(a.image, pytree, f"{work}/{k}", TIMED, True)
                layers[k]["import_s"].append(imp), layers[k]["wall_s"].append(wall)
    except PermissionError as e:
        die(f"cannot drop the page cache ({e}): run as root, or pass --warm")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for v in layers.values():
        for m in ("import_s", "wall_s"):
            v[m + "_stats"] = {"median": statistics.median(v[m]), "min": min(v[m]), "max": max(v[m])}
    ratio = layers["ours"]["import_s_stats"]["median"] / layers["naive"]["import_s_stats"]["median"]
    paired = statistics.median(x / y for x, y in zip(layers["ours"]["import_s"], layers["naive"]["import_s"]))
    report(layers, ratio, a, notes + [f"median of per-run ratios ours/naive (robust to load drift): {paired:.2f}"])
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"layers": layers, "naive_pins": pins, "runs": a.runs, "page_cache_dropped": not a.warm,
                   "import_ratio_ours_over_naive": ratio, "paired_ratio_median": paired, "goal_ratio": 0.65, "notes": notes}, f, indent=2)
    print(f"\nJSON: {a.json}")


def report(layers, ratio, a, notes):
    n, o = layers["naive"], layers["ours"]
    t = lambda v, m: "{median:.3f} ({min:.3f}-{max:.3f})".format(**v[m + "_stats"])
    mib = lambda key: (f"{n[key] / MiB:.1f}", f"{o[key] / MiB:.1f}")
    rows = [("zip", os.path.basename(n["zip"]), os.path.basename(o["zip"])), ("files", n["files"], o["files"]),
            ("unzipped MiB", *mib("unzipped_bytes")), ("zipped MiB (deflate -9)", *mib("zipped_bytes")),
            *((f"duplicated {k} files: count / MiB", *(f"{len(v['dup_' + k])} / {v[f'dup_{k}_bytes'] / MiB:.1f}"
               for v in (n, o))) for k in ("lib", "data")),
            *((k, n["versions"][k], o["versions"][k]) for k in n["versions"]),
            (f"import s, median (min-max), {a.runs} runs", t(n, "import_s"), t(o, "import_s")),
            ("process wall s, median (min-max)", t(n, "wall_s"), t(o, "wall_s"))]
    w = [max(len(str(r[i])) for r in rows) for i in range(2)]
    print(f"\nGIS layer benchmark ({'WARM page cache' if a.warm else 'page cache dropped before each run'}; "
          f"Lambda emulation, image {a.image})\n{'':{w[0]}}  {'naive (PyPI wheels)':{w[1]}}  ours")
    for r in rows:
        print(f"{r[0]:{w[0]}}  {str(r[1]):{w[1]}}  {r[2]}")
    for k, v in (("naive", n), ("ours", o)):
        data = {}  # duplicated data files, one line per set of directories
        for d in v["dup_data"]:
            data.setdefault((d["copies"], tuple(d["where"])), []).append(d)
        for d in v["dup_lib"] + [{"name": g[0]["name"] if len(g) == 1 else
                                  f"{len(g)} files incl. {max(g, key=lambda x: x['dup_bytes'])['name']}",
                                  "copies": c, "where": w, "dup_bytes": sum(x["dup_bytes"] for x in g)}
                                 for (c, w), g in data.items()]:
            print(f"  {k}: {d['name']} x{d['copies']} ({', '.join(d['where'])}): {d['dup_bytes'] / MiB:.2f} MiB extra")
    print(f"import time ratio ours/naive (median): {ratio:.2f}; goal <= 0.65 {'met' if ratio <= 0.65 else 'NOT met'}")
    for note in notes:
        print(f"NOTE: {note}")


if __name__ == "__main__":
    main()
