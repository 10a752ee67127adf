#!/usr/bin/env bash
# Installs Debian's Fashion-MNIST files (/usr/share/datasets/fashion-mnist) when apt is usable.
# Without root or apt this only says so: dataset=fashion_mnist then needs download=true.
set -u
dir=/usr/share/datasets/fashion-mnist
[ -f "$dir/train-images-idx3-ubyte.gz" ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
    || echo "note: could not install dataset-fashion-mnist; fashion_mnist needs download=true"
else
  echo "note: dataset-fashion-mnist not installed (needs root apt); fashion_mnist needs download=true"
fi
exit 0
