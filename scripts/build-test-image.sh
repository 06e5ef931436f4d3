#!/usr/bin/env bash
# Build a small Python image for the Docker tests without any registry: a host copy of Debian's
# /usr/bin/python3.11 with its standard library and every shared library it (and its extension
# modules) link to, bash, busybox-static for the usual tools, and the CA bundle; then `docker import`.
#
#   bash scripts/build-test-image.sh [TAG]     # default TAG: jupyter-jobs-test-python:3.11
#
# Needs DOCKER_HOST pointing at a running engine (scripts/docker-engine.sh start). Installs
# busybox-static (and python3.11) with apt when missing. Skips the build when TAG already exists
# (set REBUILD=1 to force). About 2 s and 70 MB.
set -euo pipefail

TAG="${1:-jupyter-jobs-test-python:3.11}"
PY=/usr/bin/python3.11
log() { echo "build-test-image: $*" >&2; }

if [[ -z "${REBUILD:-}" ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
    log "$TAG exists"
    exit 0
fi

missing=()
[[ -x /bin/busybox ]] || missing+=(busybox-static)
[[ -x "$PY" ]] || missing+=(python3.11)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
fi

ROOT="$(mktemp -d /tmp/jupyter-jobs-image.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT

# A merged-/usr layout like Debian's, so the paths ldd prints are valid inside too.
mkdir -p "$ROOT"/usr/{bin,lib/x86_64-linux-gnu,lib64} "$ROOT"/{etc/ssl/certs,tmp,root,proc,sys,dev}
chmod 1777 "$ROOT/tmp"
ln -s usr/bin "$ROOT/bin"
ln -s usr/bin "$ROOT/sbin"
ln -s usr/lib "$ROOT/lib"
ln -s usr/lib64 "$ROOT/lib64"

# Executables: python, bash, busybox (its applets as links, never replacing a real binary).
cp -L "$PY" "$ROOT/usr/bin/python3.11"
ln -s python3.11 "$ROOT/usr/bin/python3"
ln -s python3.11 "$ROOT/usr/bin/python"
cp -L /bin/bash "$ROOT/usr/bin/bash"
cp -L /bin/busybox "$ROOT/usr/bin/busybox"
for applet in $(/bin/busybox --list); do
    [[ -e "$ROOT/usr/bin/$applet" ]] || ln -s busybox "$ROOT/usr/bin/$applet"
done

# The standard library (no host site-packages: jobs get their packages from env.python).
cp -a /usr/lib/python3.11 "$ROOT/usr/lib/python3.11"
rm -rf "$ROOT/usr/lib/python3.11/EXTERNALLY-MANAGED"
# Byte-compiled once here: a fresh container cannot keep .pyc files, and compiling the modules a
# runner imports on every start costs half a second.
find "$ROOT/usr/lib/python3.11" -name __pycache__ -prune -exec rm -rf {} +
"$PY" -m compileall -q -j 0 -d /usr/lib/python3.11 -x '/(test|idlelib|lib2to3|tkinter|turtledemo)/' \
    "$ROOT/usr/lib/python3.11" >/dev/null || true

# Shared libraries of the binaries and of every extension module, and the dynamic loader.
{
    ldd "$PY" /bin/bash
    find /usr/lib/python3.11/lib-dynload -name '*.so' -exec ldd {} \;
    # What compiled wheels and the static-looking `uv` binary also load (glibc's compat stubs, libgcc).
    for extra in libgcc_s.so.1 libstdc++.so.6 librt.so.1 libpthread.so.0 libdl.so.2 libutil.so.1; do
        [[ -e "/lib/x86_64-linux-gnu/$extra" ]] && echo "	$extra => /lib/x86_64-linux-gnu/$extra (0x0)"
    done
} 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/lib64\// {print $1}' | sort -u | while read -r lib; do
    case "$lib" in
        /lib64/*) cp -L "$lib" "$ROOT/usr/lib64/" ;;
        *) cp -L "$lib" "$ROOT/usr/lib/x86_64-linux-gnu/" ;;
    esac
done

# Users, the CA bundle, locale-free UTF-8.
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOT/etc/group"
cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"

# Import, then a smoke test: the copied tree must run on its own, with no network.
tar -C "$ROOT" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' -c 'ENV HOME=/root' -c 'ENV LANG=C.UTF-8' \
    -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' -c 'CMD ["python3"]' \
    -m "jupyter-jobs test image: host copy of $($PY -V 2>&1)" - "$TAG" >/dev/null
if ! docker run --rm --network none "$TAG" python3 -c 'import ssl, sqlite3, json, zlib, ctypes, venv'; then
    docker image rm -f "$TAG" >/dev/null
    log "the built image does not run python3; removed $TAG"
    exit 1
fi
log "built $TAG ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
