"""mfh: compressing neural networks by hashing (HashedNets and multi-hash functional hashing)."""
