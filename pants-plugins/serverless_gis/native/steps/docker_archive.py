#!/usr/bin/env python3
"""Wraps a rootfs tar as a one-layer `docker load` archive whose config names its architecture.

    docker_archive.py ROOTFS.tar TAG DEBIAN_ARCH LABEL=VALUE OUT_DIR

`docker import` labels every image with the host's architecture; an arm64 image must say arm64
so that `docker run --platform linux/arm64` takes it. The archive's content depends only on the
arguments (fixed creation date), so the image ID does too.
"""
import hashlib
import json
import os
import shutil
import sys


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    layer, tag, arch, label, out = sys.argv[1:]
    key, _, value = label.partition("=")
    layer_id = sha256_of(layer)
    config = json.dumps(
        {
            "architecture": arch,  # Debian's names are Docker's: amd64, arm64
            "os": "linux",
            "created": "2021-01-01T00:00:00Z",
            "config": {"Env": ["LANG=C.UTF-8"], "Labels": {key: value}},
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
        },
        sort_keys=True,
    ).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    os.makedirs(os.path.join(out, layer_id))
    try:
        os.link(layer, os.path.join(out, layer_id, "layer.tar"))
    except OSError:  # another file system
        shutil.copyfile(layer, os.path.join(out, layer_id, "layer.tar"))
    with open(os.path.join(out, config_name), "wb") as f:
        f.write(config)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump([{"Config": config_name, "RepoTags": [tag], "Layers": [f"{layer_id}/layer.tar"]}], f)


if __name__ == "__main__":
    main()
