#!/usr/bin/env bash
# Writes the seed inputs into fuzz/corpus/<target>/seed-*: small valid IDX sets, CSV files, and
# checkpoints written by `wgtrain train --save` (checkpoint::save_training). Run from the
# repository root after `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
c=fuzz/corpus
mkdir -p "$c/idx" "$c/csv" "$c/checkpoint"

python3 - "$c" <<'PY'
import gzip, struct, sys
c = sys.argv[1]

def idx(magic, dims, data):
    return struct.pack(">I", magic | len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)

def idx_input(flags, files):
    files = [gzip.compress(f, mtime=0) if flags >> i & 1 else f for i, f in enumerate(files)]
    return bytes([flags]) + b"".join(struct.pack("<H", len(f)) for f in files[:3]) + b"".join(files)

def split(n_train, n_test, rows, cols, test_cols=None):
    out = []
    for n, c in ((n_train, cols), (n_test, test_cols or cols)):
        out.append(idx(0x800, [n, rows, c], [i * 37 % 256 for i in range(n * rows * c)]))
        out.append(idx(0x800, [n], [i % 3 for i in range(n)]))
    return out

for name, flags, files in [
    ("plain", 0, split(3, 2, 2, 3)),
    ("gzipped", 15, split(3, 2, 2, 3)),
    ("mixed", 5, split(1, 1, 1, 1)),
    ("no-images", 0, split(0, 0, 2, 2)),
    ("test-wider", 0, split(2, 1, 2, 2, 3)),
]:
    open(f"{c}/idx/seed-{name}", "wb").write(idx_input(flags, files))

for name, mode, text in [
    ("header", 0, b"a, b ,label\r\n 1.5, 2 ,1\r\n3,4e0,0\n\n  \n"),
    ("numeric", 0, b"1,2,0\n3,4,4\n"),
    ("bom", 0, b"\xef\xbb\xbfx,y\n-1e-3,2\n"),
    ("targets2", 6, b"x,y1,y2\n1,0.5,-2\n2,1.5,3\n"),
    ("gzipped", 8, gzip.compress(b"f1,f2,y\n0,1,1\n1,0,0\n", mtime=0)),
    ("gzipped-targets1", 13, gzip.compress(b"0.5,1\n0.25,0\n", mtime=0)),
    ("semicolon-decimal-comma", 0, "Alkohol;Säure;Sorte\n13,2;2,5;rot\n12,1;1,9;weiß\n".encode()),
    ("tab-given", 32, b"a\tb\ty\n1\t2\tp\n3\t4\tq\n"),
    ("spaces-given", 48, b"a  b   y\n 1 2 p\n3    4  q\n"),
    ("quotes-categories-na", 0, b'id,"c, with comma",n,y\nr1,red,NA,yes\nr2,"blue",2,no\nr3,,?,yes\n'),
    ("missing-error", 64, b"a,b,y\n1,,p\n2,3,q\n"),
    ("label-by-name", 128, b"y,a,b\n1,0.5,x\n3,0.25,z\n"),
]:
    open(f"{c}/csv/seed-{name}", "wb").write(bytes([mode]) + text)
PY

w=target/release/wgtrain
ck() { $w train --epochs 1 --device cpu --save "$c/checkpoint/seed-$1" "${@:2}" >/dev/null 2>&1; }
ck sgd-softmax --data digits --hidden 2
ck momentum-step-mse --data xor --hidden 4,3 --activation tanh,leaky-relu --loss mse \
    --output sigmoid --optimizer momentum --schedule step --lr-step 1
ck adam-cosine-bce --data xor --hidden "" --loss bce --optimizer adam --schedule cosine \
    --warmup 2 --valid-split 0.25
ls -l "$c"/*/seed-*
