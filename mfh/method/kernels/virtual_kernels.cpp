// Fused CPU kernels for hashed virtual weights (HashedNets and MFH), loaded by mfh/method/kernels/__init__.py.
//
// A virtual weight n (of N = rows * cols) reads U hashed values z_u = xi_u * w[h_u] and, for
// -D, R hashed parameters alpha_r = b_r * xi'_r * w'[h'_r]; g (0 to 3 layers, tanh hidden
// units, linear output, optional biases) maps z to the weight, which is multiplied by `scale`.
// Hash codes are int32: the bucket in bits 0..30, bit 31 set when the sign hash is -1. They are
// laid out in blocks of LANES weights, (ceil(N / LANES), U, LANES), padded with code 0, so that
// one block's codes are one contiguous run and each slot's LANES codes one vector; or they are
// hashed block by block inside the kernels (index mode `recomputed`: no codes in memory).
//
// forward:  V (N) from w, g's parameters (or w'), codes.
// backward: dL/dw (K), dL/dg (P) and dL/dw' (K') from dL/dV, recomputing the forward.
// Weights are processed LANES at a time (SIMD). The backward splits the N weights into a
// fixed number of chunks, each scatter-adding into its own table; the tables are then summed
// in chunk order, so results do not depend on the number of threads (deterministic).
// hash_codes: the xxh32 hash codes of one layer, equal to mfh.method.hashing.bucket_and_sign.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <omp.h>

namespace {

constexpr int LANES = 64;       // weights per block: 4 SIMD vectors, for instruction parallelism
constexpr int MAX_LAYERS = 3;   // G4
constexpr int MAX_WIDTH = 16;   // U <= 16 and every hidden width <= U
constexpr int MAX_UNITS = MAX_WIDTH * (MAX_LAYERS + 1);
constexpr uint32_t INDEX_MASK = 0x7fffffffu;
constexpr int PREFETCH = 8;     // blocks ahead

// x times the sign of a code (+1, or -1 when bit 31 is set): exact, branch-free.
template <typename T>
inline T flip(T x, int32_t code) { return x * static_cast<T>((code >> 31) | 1); }

// tanh within 3 ulp (float): Eigen's rational approximation, clamped where tanh is +-1. V is
// float or a vector of floats (the fixed-shape kernels), computed lane by lane alike; the clamp
// is std::min(std::max(x, -clamp), clamp) written as the comparisons std::max and std::min make.
template <class V>
inline V tanh_rational(V x) {
  const V lo = V{} - 7.90531110763549805f, hi = V{} + 7.90531110763549805f;
  x = x < lo ? lo : x;
  x = hi < x ? hi : x;
  const V x2 = x * x;
  V p = V{} + -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  V q = V{} + 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return x * p / q;
}

inline float tanh_fast(float x) { return tanh_rational(x); }
inline double tanh_fast(double x) { return std::tanh(x); }

// xxh32 of the 16-byte message (w0, w1, w2, w3) = (layer, slot, i, j), as in xxhash:
// avalanche(rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18) + 16), v1..v4 one round on
// each word. The sum before the avalanche splits into a part of (layer, slot) and parts of i
// and of j (`SeedParts`), so a block hashes each row, column and slot once, and each weight
// and slot with one addition and the avalanche.
constexpr uint32_t PRIME1 = 2654435761u, PRIME2 = 2246822519u, PRIME3 = 3266489917u;

inline uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
inline uint32_t xxround(uint32_t acc, uint32_t lane) {
  return rotl(acc + lane * PRIME2, 13) * PRIME1;
}

inline uint32_t avalanche(uint32_t h) {
  h ^= h >> 15;
  h *= PRIME2;
  h ^= h >> 13;
  h *= PRIME3;
  return h ^ (h >> 16);
}

// The three parts of xxh32's pre-avalanche sum for one seed.
struct SeedParts {
  uint32_t seed;
  uint32_t head(uint32_t layer, uint32_t slot) const {   // words 0 and 1, and the length
    return rotl(xxround(seed + PRIME1 + PRIME2, layer), 1) + rotl(xxround(seed + PRIME2, slot), 7)
           + 16u;
  }
  uint32_t row(uint32_t i) const { return rotl(xxround(seed, i), 12); }
  uint32_t col(uint32_t j) const { return rotl(xxround(seed - PRIME1, j), 18); }
};

// The hash codes of one set of hash pairs of a layer: stored (blocks, slots, LANES), or, when
// `stored` is null, hashed block by block from key = (layer, rows, cols, buckets, bucket seed,
// sign seed), so that no codes are kept (index mode `recomputed`).
struct Codes {
  const int32_t* stored;
  const int64_t* key;
  int slots;
};

// The codes (slots, LANES) of block blk: bucket = h % buckets in bits 0..30, bit 31 set when
// the sign hash is odd; code 0 past the last of the n = rows * cols weights.
inline void hash_block(const int64_t* key, int slots, int64_t blk, int32_t* out) {
  const uint32_t layer = static_cast<uint32_t>(key[0]);
  const int64_t cols = key[2], n = key[1] * cols;
  const uint32_t k = static_cast<uint32_t>(key[3]);
  const SeedParts bucket{static_cast<uint32_t>(key[4])}, sign{static_cast<uint32_t>(key[5])};
  const double inv_k = 1.0 / static_cast<double>(k);
  uint32_t ii[LANES], jj[LANES];   // (i, j) of each lane: one division per block
  const int64_t m0 = blk * LANES;
  int64_t i = m0 / cols, j = m0 - i * cols;
  for (int l = 0; l < LANES; ++l) {
    ii[l] = static_cast<uint32_t>(i);
    jj[l] = static_cast<uint32_t>(j);
    if (++j == cols) {
      j = 0;
      ++i;
    }
  }
  uint32_t bucket_ij[LANES], sign_ij[LANES];   // row and column parts of each lane's sum
  #pragma omp simd
  for (int l = 0; l < LANES; ++l) {
    bucket_ij[l] = bucket.row(ii[l]) + bucket.col(jj[l]);
    sign_ij[l] = sign.row(ii[l]) + sign.col(jj[l]);
  }
  for (int u = 0; u < slots; ++u) {
    int32_t* dst = out + u * LANES;
    const uint32_t bucket_head = bucket.head(layer, u), sign_head = sign.head(layer, u);
    #pragma omp simd
    for (int l = 0; l < LANES; ++l) {
      const uint32_t h = avalanche(bucket_head + bucket_ij[l]);
      const uint32_t xi = avalanche(sign_head + sign_ij[l]);
      // h % k exactly: the double quotient q is off by at most one, so h - q k (mod 2**32) is
      // the remainder, or it plus k, or it minus k (wrapped to at least 2**32 - k > 2k).
      const uint32_t q = static_cast<uint32_t>(static_cast<double>(h) * inv_k);
      uint32_t r = h - q * k;
      r = r >= 0u - k ? r + k : (r >= k ? r - k : r);
      const int32_t code = static_cast<int32_t>(r | ((xi & 1u) << 31));
      dst[l] = m0 + l < n ? code : 0;
    }
  }
}

// The codes of block blk: a pointer into the stored codes, or hashed into scratch.
inline const int32_t* block_codes(const Codes& c, int64_t blk, int32_t* scratch) {
  if (c.stored != nullptr) return c.stored + blk * c.slots * LANES;
  hash_block(c.key, c.slots, blk, scratch);
  return scratch;
}

// Everything that describes one virtual-weight computation.
template <typename T>
struct Problem {
  int64_t n;                 // virtual weights
  int slots;                 // U
  Codes codes;               // of w: (blocks, U, LANES)
  const T* w;                // (K)
  int layers;                // layers of g, 0 = identity
  int widths[MAX_LAYERS + 1];
  int units[MAX_LAYERS + 2]; // first unit of each layer's activations (input first)
  int params[MAX_LAYERS + 1];// first parameter of each layer of g in the packing
  bool bias;                 // g has biases
  const T* g;                // global parameters of g (P), or nullptr with -D
  int dual_slots;            // R, 0 without -D
  Codes dual_codes;          // of w': (blocks, R, LANES)
  const T* w2;               // (K')
  const T* bounds;           // (R)
  T scale;
};

template <typename T>
Problem<T> make_problem(int64_t n, int slots, const int32_t* codes, const int64_t* key,
                        const T* w, int layers, const int32_t* widths, int bias, const T* g,
                        int dual_slots, const int32_t* dual_codes, const int64_t* dual_key,
                        const T* w2, const T* bounds, double scale) {
  Problem<T> p{};
  p.n = n; p.slots = slots; p.codes = {codes, key, slots}; p.w = w; p.layers = layers;
  p.bias = bias != 0; p.g = g; p.dual_slots = dual_slots;
  p.dual_codes = {dual_codes, dual_key, dual_slots}; p.w2 = w2; p.bounds = bounds;
  p.scale = static_cast<T>(scale);
  p.widths[0] = slots;
  p.units[0] = 0;
  p.params[0] = 0;
  for (int k = 0; k < layers; ++k) {
    p.widths[k + 1] = widths[k + 1];
    p.units[k + 1] = p.units[k] + p.widths[k];
    p.params[k + 1] = p.params[k] + p.widths[k] * p.widths[k + 1] + (p.bias ? p.widths[k + 1] : 0);
  }
  p.units[layers + 1] = p.units[layers] + p.widths[layers];
  return p;
}

// Prefetch the stored codes of block blk: the gathers of a block depend on its codes.
template <typename T>
inline void prefetch_codes(const Problem<T>& p, int64_t blk) {
  if (blk * LANES >= p.n) return;
  for (const Codes* c : {&p.codes, &p.dual_codes}) {
    if (c->stored == nullptr) continue;
    for (int u = 0; u < c->slots; ++u) {
      __builtin_prefetch(c->stored + (blk * c->slots + u) * LANES);
    }
  }
}

// The signed values table[bucket] * xi of `count` slots, times bounds[r] when given.
template <typename T>
inline void gather(const int32_t* cb, int count, const T* table, const T* bounds, T* values) {
  for (int u = 0; u < count; ++u) {
    const int32_t* c = cb + u * LANES;
    T* v = values + u * LANES;
    #pragma omp simd
    for (int l = 0; l < LANES; ++l) v[l] = flip(table[c[l] & INDEX_MASK], c[l]);
    if (bounds != nullptr) {
      const T b = bounds[u];
      #pragma omp simd
      for (int l = 0; l < LANES; ++l) v[l] = v[l] * b;
    }
  }
}

// table[bucket] += xi * value (times bounds[u] when given) for `count` slots of the first nl
// lanes; the signed values and buckets are formed with SIMD, the adds one by one (buckets may
// repeat within a block).
template <typename T>
inline void scatter(const int32_t* cb, int count, const T* values, const T* bounds, int nl,
                    T* table) {
  int32_t index[LANES];
  T signed_values[LANES];
  for (int u = 0; u < count; ++u) {
    const int32_t* c = cb + u * LANES;
    const T* v = values + u * LANES;
    const T b = bounds != nullptr ? bounds[u] : T(1);
    #pragma omp simd
    for (int l = 0; l < LANES; ++l) {
      index[l] = c[l] & INDEX_MASK;
      signed_values[l] = flip(bounds != nullptr ? v[l] * b : v[l], c[l]);
    }
    for (int l = 0; l < nl; ++l) table[index[l]] += signed_values[l];
  }
}

// acc[l] += w_l * x[l] over a block, w_l being g's parameter q: one per weight,
// alpha[q * LANES + l], with -D (alpha given), else the global g[q].
template <typename T>
inline void add_weighted(T* acc, const T* alpha, const T* g, int q, const T* x) {
  if (alpha != nullptr) {
    const T* wt = alpha + q * LANES;
    #pragma omp simd
    for (int l = 0; l < LANES; ++l) acc[l] = acc[l] + wt[l] * x[l];
  } else {
    const T wt = g[q];
    #pragma omp simd
    for (int l = 0; l < LANES; ++l) acc[l] = acc[l] + wt * x[l];
  }
}

// g's forward on one block: act holds the input z (units 0..U) and receives every layer's
// output (post-tanh for hidden layers). alpha: per-lane parameters (-D) or nullptr.
template <typename T>
inline void g_forward(const Problem<T>& p, T* act, const T* alpha) {
  for (int k = 0; k < p.layers; ++k) {
    const int a = p.widths[k], b = p.widths[k + 1], base = p.params[k];
    const T* in = act + p.units[k] * LANES;
    T* out = act + p.units[k + 1] * LANES;
    const bool hidden = k + 1 < p.layers;
    for (int o = 0; o < b; ++o) {
      T acc[LANES];
      #pragma omp simd
      for (int l = 0; l < LANES; ++l) acc[l] = 0;
      for (int i = 0; i < a; ++i) {
        add_weighted(acc, alpha, p.g, base + o * a + i, in + i * LANES);
      }
      if (p.bias) {
        const int r = base + a * b + o;
        if (alpha != nullptr) {
          #pragma omp simd
          for (int l = 0; l < LANES; ++l) acc[l] = acc[l] + alpha[r * LANES + l];
        } else {
          #pragma omp simd
          for (int l = 0; l < LANES; ++l) acc[l] = acc[l] + p.g[r];
        }
      }
      T* y = out + o * LANES;
      if (hidden) {
        #pragma omp simd
        for (int l = 0; l < LANES; ++l) y[l] = tanh_fast(acc[l]);
      } else {
        #pragma omp simd
        for (int l = 0; l < LANES; ++l) y[l] = acc[l];
      }
    }
  }
}

// Hashed values of a block with codes cb (and dcb for -D): z into act (U, LANES) and alpha
// (R, LANES).
template <typename T>
inline void block_inputs(const Problem<T>& p, const int32_t* cb, const int32_t* dcb, T* act,
                         T* alpha) {
  gather(cb, p.slots, p.w, static_cast<const T*>(nullptr), act);
  if (p.dual_slots > 0) gather(dcb, p.dual_slots, p.w2, p.bounds, alpha);
}

// g of compile-time shape on SIMD vectors: each vector lane is one virtual weight, and every
// value of g (inputs, activations, deltas) is a vector the compiler keeps in a register, where
// the generic path streams a LANES-wide array through memory per unit and per product. The
// same operations in the same order as g_forward and backward_chunk, element by element, so
// the results are bit for bit those of the generic path (tested); used for the shapes of the
// Table 1 grid (G2..G4, U in 1, 2, 4, 8, 16) without biases.
template <int U, int L>
struct Shape {
  static constexpr int layers = L;
  // G2 = U->1, G3 = U->ceil(U/2)->1, G4 = U->U->ceil(U/2)->1, as mfh.method.reconstruction.
  static constexpr int half = U > 1 ? (U + 1) / 2 : 1;
  static constexpr int width(int k) {
    return k == 0 ? U : k == L ? 1 : (L == 3 && k == 1) ? U : half;
  }
  static constexpr int param(int k) {   // first parameter of layer k
    return k == 0 ? 0 : param(k - 1) + width(k - 1) * width(k);
  }
  static constexpr int params = param(L);
  static constexpr int unit(int k) { return k == 0 ? 0 : unit(k - 1) + width(k - 1); }
  static constexpr int units = unit(L) + 1;
};

#if defined(__AVX512F__)
constexpr int VECTOR_BYTES = 64;
#else
constexpr int VECTOR_BYTES = 32;
#endif

template <typename T>
struct Simd {
  typedef T type __attribute__((vector_size(VECTOR_BYTES)));
  static constexpr int width = VECTOR_BYTES / sizeof(T);
};
template <typename T>
using Vec = typename Simd<T>::type;

template <typename T>
inline Vec<T> load(const T* src) {
  Vec<T> v;
  std::memcpy(&v, src, sizeof v);
  return v;
}

template <typename T>
inline void store(T* dst, Vec<T> v) { std::memcpy(dst, &v, sizeof v); }

inline Vec<float> tanh_fast(Vec<float> x) { return tanh_rational(x); }

inline Vec<double> tanh_fast(Vec<double> x) {
  for (int j = 0; j < Simd<double>::width; ++j) x[j] = std::tanh(x[j]);
  return x;
}

// g's parameter i for the lanes of vector v: the global g[i], or with -D the gathered
// alpha (P, LANES).
template <typename T, bool DUAL>
struct Params {
  const T* g;
  const T* alpha;
  int v;
  Vec<T> operator()(int i) const {
    if constexpr (DUAL) return load(alpha + i * LANES + v);
    else return Vec<T>{} + g[i];
  }
};

// g's forward on one vector of lanes: act (S::units) holds z and receives every layer's
// output (post-tanh for hidden layers).
template <typename T, class S, class Q>
inline void vec_forward(Vec<T>* act, const Q& q) {
  #pragma GCC unroll 4
  for (int k = 0; k < S::layers; ++k) {
    const int a = S::width(k), b = S::width(k + 1), base = S::param(k);
    const Vec<T>* in = act + S::unit(k);
    Vec<T>* out = act + S::unit(k + 1);
    #pragma GCC unroll 16
    for (int o = 0; o < b; ++o) {
      Vec<T> acc = Vec<T>{};
      #pragma GCC unroll 16
      for (int i = 0; i < a; ++i) acc = acc + q(base + o * a + i) * in[i];
      out[o] = k + 1 < S::layers ? tanh_fast(acc) : acc;
    }
  }
}

// Forward of one block: v (LANES) = g(z) from the gathered z (U, LANES) and, with -D, alpha
// (P, LANES).
template <typename T, class S, bool DUAL>
void fixed_forward_block(const T* g, const T* z, const T* alpha, T* v) {
  constexpr int W = Simd<T>::width;
  for (int c = 0; c < LANES; c += W) {
    Vec<T> act[S::units];
    for (int u = 0; u < S::width(0); ++u) act[u] = load(z + u * LANES + c);
    vec_forward<T, S>(act, Params<T, DUAL>{g, alpha, c});
    store(v + c, act[S::unit(S::layers)]);
  }
}

// Backward of one block: recomputes g from z and alpha, back-propagates the block's output
// gradient delta (LANES, already scaled, zero past the last weight), adds the gradients of
// global g parameters into gacc (P, LANES) or writes those of the hashed ones into dalpha
// (P, LANES), and writes the gradient of z into dz (U, LANES).
template <typename T, class S, bool DUAL>
void fixed_backward_block(const T* g, const T* z, const T* alpha, const T* grad, T* gacc,
                          T* dalpha, T* dz) {
  constexpr int W = Simd<T>::width;
  for (int c = 0; c < LANES; c += W) {
    const Params<T, DUAL> q{g, alpha, c};
    Vec<T> act[S::units];
    for (int u = 0; u < S::width(0); ++u) act[u] = load(z + u * LANES + c);
    vec_forward<T, S>(act, q);
    Vec<T> delta[S::width(0)], next[S::width(0)];
    delta[0] = load(grad + c);
    #pragma GCC unroll 4
    for (int k = S::layers - 1; k >= 0; --k) {
      const int a = S::width(k), b = S::width(k + 1), base = S::param(k);
      const Vec<T>* in = act + S::unit(k);
      #pragma GCC unroll 16
      for (int o = 0; o < b; ++o) {
        #pragma GCC unroll 16
        for (int i = 0; i < a; ++i) {
          T* dst = (DUAL ? dalpha : gacc) + (base + o * a + i) * LANES + c;
          if constexpr (DUAL) store(dst, delta[o] * in[i]);
          else store(dst, load(dst) + delta[o] * in[i]);
        }
      }
      #pragma GCC unroll 16
      for (int i = 0; i < a; ++i) {
        Vec<T> s = Vec<T>{};
        #pragma GCC unroll 16
        for (int o = 0; o < b; ++o) s = s + q(base + o * a + i) * delta[o];
        next[i] = k > 0 ? s * (T(1) - in[i] * in[i]) : s;
      }
      #pragma GCC unroll 16
      for (int i = 0; i < a; ++i) delta[i] = next[i];
    }
    for (int u = 0; u < S::width(0); ++u) store(dz + u * LANES + c, delta[u]);
  }
}

template <typename T>
using ForwardBlock = void (*)(const T*, const T*, const T*, T*);
template <typename T>
using BackwardBlock = void (*)(const T*, const T*, const T*, const T*, T*, T*, T*);

template <typename T>
struct Fixed {
  ForwardBlock<T> forward = nullptr;
  BackwardBlock<T> backward = nullptr;
};

bool fixed_enabled = true;   // mfh_use_fixed_shapes(0): the generic path only, for the tests

template <typename T, int U, int L>
bool pick(const Problem<T>& p, Fixed<T>& f) {
  using S = Shape<U, L>;
  if (p.slots != U || p.layers != L) return false;
  for (int k = 0; k <= L; ++k) {
    if (p.widths[k] != S::width(k)) return false;
  }
  if (p.dual_slots > 0) {
    if (p.dual_slots != S::params) return false;
    f = {fixed_forward_block<T, S, true>, fixed_backward_block<T, S, true>};
  } else {
    f = {fixed_forward_block<T, S, false>, fixed_backward_block<T, S, false>};
  }
  return true;
}

template <typename T, int U>
bool pick_depth(const Problem<T>& p, Fixed<T>& f) {
  return pick<T, U, 1>(p, f) || pick<T, U, 2>(p, f) || pick<T, U, 3>(p, f);
}

// The fixed-shape block kernels for p's g, or none (generic path).
template <typename T>
Fixed<T> fixed_for(const Problem<T>& p) {
  Fixed<T> f;
  if (!fixed_enabled || p.bias || p.layers == 0) return f;
  pick_depth<T, 1>(p, f) || pick_depth<T, 2>(p, f) || pick_depth<T, 4>(p, f) ||
      pick_depth<T, 8>(p, f) || pick_depth<T, 16>(p, f);
  return f;
}

template <typename T>
void forward(const Problem<T>& p, T* out, int threads) {
  const int64_t blocks = (p.n + LANES - 1) / LANES;
#pragma omp parallel num_threads(threads)
  {
    std::vector<T> alpha(static_cast<size_t>(p.dual_slots) * LANES);
    std::vector<int32_t> scratch(static_cast<size_t>(p.slots + p.dual_slots) * LANES);
    T act[MAX_UNITS * LANES];
    const Fixed<T> fixed = fixed_for(p);
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t i0 = blk * LANES;
      const int nl = static_cast<int>(p.n - i0 < LANES ? p.n - i0 : LANES);
      prefetch_codes(p, blk + PREFETCH);
      const int32_t* cb = block_codes(p.codes, blk, scratch.data());
      const int32_t* dcb = p.dual_slots > 0 ? block_codes(p.dual_codes, blk,
                                                          scratch.data() + p.slots * LANES)
                                            : nullptr;
      block_inputs(p, cb, dcb, act, alpha.data());
      T* v = act + p.units[p.layers] * LANES;   // g's output (z_0 for the identity)
      if (fixed.forward != nullptr) {
        fixed.forward(p.g, act, alpha.data(), v);
      } else {
        g_forward(p, act, p.dual_slots > 0 ? alpha.data() : nullptr);
      }
      const T scale = p.scale;
      if (nl == LANES) {
        #pragma omp simd
        for (int l = 0; l < LANES; ++l) out[i0 + l] = v[l] * scale;
      } else {
        for (int l = 0; l < nl; ++l) out[i0 + l] = v[l] * scale;
      }
    }
  }
}

// Backward of one chunk of weights [lo, hi): scatter-adds into its own tables and sums the
// gradient of global g parameters into gsum (double, one entry per parameter).
template <typename T>
void backward_chunk(const Problem<T>& p, const T* grad_out, int64_t lo, int64_t hi, T* table,
                    T* table2, double* gsum) {
  const int n_params = p.params[p.layers];
  const bool global_g = gsum != nullptr && p.layers > 0 && p.dual_slots == 0;
  const Fixed<T> fixed = fixed_for(p);
  const bool keep_gacc = global_g || (fixed.backward != nullptr && p.dual_slots == 0);
  std::vector<T> gacc(keep_gacc ? static_cast<size_t>(n_params) * LANES : 0, T(0));
  std::vector<T> alpha(static_cast<size_t>(p.dual_slots) * LANES);
  std::vector<T> dalpha(static_cast<size_t>(p.dual_slots) * LANES);
  std::vector<int32_t> scratch(static_cast<size_t>(p.slots + p.dual_slots) * LANES);
  T act[MAX_UNITS * LANES];
  T delta[MAX_WIDTH * LANES], next[MAX_WIDTH * LANES];
  for (int64_t i0 = lo; i0 < hi; i0 += LANES) {
    const int64_t blk = i0 / LANES;
    const int nl = static_cast<int>(hi - i0 < LANES ? hi - i0 : LANES);
    prefetch_codes(p, blk + PREFETCH);
    const int32_t* cb = block_codes(p.codes, blk, scratch.data());
    const int32_t* dcb = p.dual_slots > 0 ? block_codes(p.dual_codes, blk,
                                                        scratch.data() + p.slots * LANES)
                                          : nullptr;
    const T scale = p.scale;
    if (nl == LANES) {
      #pragma omp simd
      for (int l = 0; l < LANES; ++l) delta[l] = grad_out[i0 + l] * scale;
    } else {
      for (int l = 0; l < LANES; ++l) delta[l] = l < nl ? grad_out[i0 + l] * scale : T(0);
    }
    if (p.layers > 0 || p.dual_slots > 0) block_inputs(p, cb, dcb, act, alpha.data());
    if (fixed.backward != nullptr) {
      fixed.backward(p.g, act, alpha.data(), delta, gacc.data(), dalpha.data(), next);
      if (table != nullptr) scatter(cb, p.slots, next, static_cast<const T*>(nullptr), nl, table);
      if (table2 != nullptr) scatter(dcb, p.dual_slots, dalpha.data(), p.bounds, nl, table2);
      continue;
    }
    g_forward(p, act, p.dual_slots > 0 ? alpha.data() : nullptr);
    for (int k = p.layers - 1; k >= 0; --k) {
      const int a = p.widths[k], b = p.widths[k + 1], base = p.params[k];
      const T* in = act + p.units[k] * LANES;
      // Gradients of this layer's parameters: weight (o, i) += delta_o * in_i, bias += delta_o.
      if (p.dual_slots > 0 || global_g) {
        T* dst = p.dual_slots > 0 ? dalpha.data() : gacc.data();
        const bool add = p.dual_slots == 0;
        for (int o = 0; o < b; ++o) {
          const T* d = delta + o * LANES;
          for (int i = 0; i < a; ++i) {
            T* g = dst + (base + o * a + i) * LANES;
            const T* x = in + i * LANES;
            if (add) {
              #pragma omp simd
              for (int l = 0; l < LANES; ++l) g[l] = g[l] + d[l] * x[l];
            } else {
              #pragma omp simd
              for (int l = 0; l < LANES; ++l) g[l] = d[l] * x[l];
            }
          }
          if (p.bias) {
            T* g = dst + (base + a * b + o) * LANES;
            if (add) {
              #pragma omp simd
              for (int l = 0; l < LANES; ++l) g[l] = g[l] + d[l];
            } else {
              #pragma omp simd
              for (int l = 0; l < LANES; ++l) g[l] = d[l];
            }
          }
        }
      }
      // Gradient of the layer input: sum_o W[o, i] delta_o, times tanh' for hidden inputs.
      for (int i = 0; i < a; ++i) {
        T s[LANES];
        #pragma omp simd
        for (int l = 0; l < LANES; ++l) s[l] = 0;
        for (int o = 0; o < b; ++o) {
          add_weighted(s, p.dual_slots > 0 ? alpha.data() : nullptr, p.g, base + o * a + i,
                       delta + o * LANES);
        }
        T* dst = next + i * LANES;
        if (k > 0) {
          const T* y = in + i * LANES;
          #pragma omp simd
          for (int l = 0; l < LANES; ++l) dst[l] = s[l] * (T(1) - y[l] * y[l]);
        } else {
          #pragma omp simd
          for (int l = 0; l < LANES; ++l) dst[l] = s[l];
        }
      }
      std::memcpy(delta, next, sizeof(T) * a * LANES);
    }
    if (table != nullptr) scatter(cb, p.slots, delta, static_cast<const T*>(nullptr), nl, table);
    if (table2 != nullptr) scatter(dcb, p.dual_slots, dalpha.data(), p.bounds, nl, table2);
  }
  if (global_g) {
    for (int q = 0; q < n_params; ++q) {
      double s = 0;
      #pragma omp simd
      for (int l = 0; l < LANES; ++l) s += gacc[q * LANES + l];
      gsum[q] = s;
    }
  }
}

template <typename T>
void backward(const Problem<T>& p, const T* grad_out, int chunks, int64_t buckets, T* grad_w,
              T* tables, T* grad_g, int64_t dual_buckets, T* grad_w2, T* tables2, int threads) {
  const int n_params = p.params[p.layers];
  std::vector<double> gsum(grad_g != nullptr ? static_cast<size_t>(chunks) * n_params : 0);
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static, 1)
    for (int c = 0; c < chunks; ++c) {
      // Chunk boundaries are multiples of LANES so every chunk holds whole blocks.
      const int64_t blocks = (p.n + LANES - 1) / LANES;
      const int64_t lo = std::min(p.n, blocks * c / chunks * LANES);
      const int64_t hi = std::min(p.n, blocks * (c + 1) / chunks * LANES);
      // Without scratch tables (one chunk) the chunk scatter-adds into the gradient itself.
      T* table = grad_w == nullptr ? nullptr : tables == nullptr ? grad_w : tables + c * buckets;
      T* table2 = grad_w2 == nullptr ? nullptr
                  : tables2 == nullptr ? grad_w2 : tables2 + c * dual_buckets;
      if (table != nullptr) std::memset(table, 0, sizeof(T) * buckets);
      if (table2 != nullptr) std::memset(table2, 0, sizeof(T) * dual_buckets);
      backward_chunk(p, grad_out, lo, hi, table, table2,
                     grad_g != nullptr ? gsum.data() + c * n_params : nullptr);
    }
    if (grad_w != nullptr && tables != nullptr) {
#pragma omp for schedule(static)
      for (int64_t k = 0; k < buckets; ++k) {
        T s = tables[k];
        for (int c = 1; c < chunks; ++c) s += tables[c * buckets + k];
        grad_w[k] = s;
      }
    }
    if (grad_w2 != nullptr && tables2 != nullptr) {
#pragma omp for schedule(static)
      for (int64_t k = 0; k < dual_buckets; ++k) {
        T s = tables2[k];
        for (int c = 1; c < chunks; ++c) s += tables2[c * dual_buckets + k];
        grad_w2[k] = s;
      }
    }
  }
  if (grad_g != nullptr) {
    for (int q = 0; q < n_params; ++q) {
      double s = 0;
      for (int c = 0; c < chunks; ++c) s += gsum[c * n_params + q];
      grad_g[q] = static_cast<T>(s);
    }
  }
}

}  // namespace

extern "C" {

int mfh_abi_version() { return 10; }
int mfh_lanes() { return LANES; }
int mfh_max_width() { return MAX_WIDTH; }
int mfh_max_layers() { return MAX_LAYERS; }
// 0: run every g through the generic path (the tests compare it with the fixed shapes).
void mfh_use_fixed_shapes(int on) { fixed_enabled = on != 0; }
// Whether g with these widths (layers + 1 of them, input first), biases and R hashed
// parameters (0: global g) runs the fixed-shape kernels.
int mfh_has_fixed_shape(int layers, const int32_t* widths, int bias, int dual_slots) {
  const Problem<float> p = make_problem<float>(0, widths[0], nullptr, nullptr, nullptr, layers,
                                               widths, bias, nullptr, dual_slots, nullptr,
                                               nullptr, nullptr, nullptr, 1.0);
  return fixed_for(p).forward != nullptr;
}

// codes / dual_codes: stored codes, or null to hash them from key / dual_key (Codes).
// forward: out (n). backward: grad_w (K) / grad_g (P) / grad_w2 (K') where not null;
// tables (chunks, K) and tables2 (chunks, K') are scratch, null when chunks is 1.
#define MFH_KERNELS(SUFFIX, T)                                                                  \
  void mfh_forward_##SUFFIX(int64_t n, int slots, const int32_t* codes, const int64_t* key,    \
                            const T* w, int layers, const int32_t* widths, int bias,            \
                            const T* g, int dual_slots, const int32_t* dual_codes,              \
                            const int64_t* dual_key, const T* w2, const T* bounds,              \
                            double scale, T* out, int threads) {                                \
    forward(make_problem(n, slots, codes, key, w, layers, widths, bias, g, dual_slots,          \
                         dual_codes, dual_key, w2, bounds, scale), out, threads);               \
  }                                                                                             \
  void mfh_backward_##SUFFIX(int64_t n, int slots, const int32_t* codes, const int64_t* key,   \
                             const T* w, int layers, const int32_t* widths, int bias,           \
                             const T* g, int dual_slots, const int32_t* dual_codes,             \
                             const int64_t* dual_key, const T* w2, const T* bounds,             \
                             double scale, const T* grad_out, int chunks, int64_t buckets,      \
                             T* grad_w, T* tables, T* grad_g, int64_t dual_buckets,             \
                             T* grad_w2, T* tables2, int threads) {                             \
    backward(make_problem(n, slots, codes, key, w, layers, widths, bias, g, dual_slots,         \
                          dual_codes, dual_key, w2, bounds, scale), grad_out, chunks, buckets,  \
             grad_w, tables, grad_g, dual_buckets, grad_w2, tables2, threads);                  \
  }

MFH_KERNELS(f32, float)
MFH_KERNELS(f64, double)

// The memory-access floor of a layer, for the cost benchmark: only the random accesses that
// every implementation of the method makes, one read (gather) and one add (scatter) of a space
// value per hash code, with nothing computed around them and no other array streamed.
// gather_floor: sums[t] = sum of xi * w[h] over thread t's share of the `count` codes;
// scatter_floor: tables[t * buckets + h] += xi, into thread t's own table (zeroed here).
void mfh_gather_floor(const int32_t* codes, int64_t count, const float* w, float* sums,
                      int threads) {
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = count * t / nt; i < count * (t + 1) / nt; ++i) {
      sum += flip(w[codes[i] & INDEX_MASK], codes[i]);
    }
    sums[t] = sum;
  }
}

void mfh_scatter_floor(const int32_t* codes, int64_t count, int64_t buckets, float* tables,
                       int threads) {
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    float* table = tables + t * buckets;
    std::memset(table, 0, sizeof(float) * buckets);
    for (int64_t i = count * t / nt; i < count * (t + 1) / nt; ++i) {
      table[codes[i] & INDEX_MASK] += flip(1.0f, codes[i]);
    }
  }
}

// The arithmetic floor of g, for the cost benchmark: g's forward and backward once for each
// of n virtual weights (float, fixed shapes only), on one block of inputs that stays in L1 -
// no gathers, no scatter-adds, no streams; what any implementation of this g computes at least
// once per weight and step. Returns 0 (nothing run) when g has no fixed-shape kernel.
int mfh_g_floor(int64_t n, int layers, const int32_t* widths, int dual_slots, int threads) {
  const Problem<float> p = make_problem<float>(n, widths[0], nullptr, nullptr, nullptr, layers,
                                               widths, 0, nullptr, dual_slots, nullptr,
                                               nullptr, nullptr, nullptr, 1.0);
  const Fixed<float> fixed = fixed_for(p);
  if (fixed.backward == nullptr) return 0;
  const int n_params = p.params[p.layers];
  const int64_t blocks = (n + LANES - 1) / LANES;
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> g(n_params), z(static_cast<size_t>(widths[0]) * LANES), grad(LANES);
    std::vector<float> alpha(static_cast<size_t>(n_params) * LANES);
    std::vector<float> gacc(alpha.size(), 0.0f), dalpha(alpha.size());
    std::vector<float> dz(static_cast<size_t>(MAX_WIDTH) * LANES);
    for (size_t i = 0; i < g.size(); ++i) g[i] = 0.3f - 0.05f * static_cast<float>(i % 13);
    for (size_t i = 0; i < z.size(); ++i) z[i] = 0.01f * static_cast<float>(i % 97) - 0.5f;
    for (size_t i = 0; i < alpha.size(); ++i) alpha[i] = 0.2f - 0.03f * static_cast<float>(i % 17);
    for (int l = 0; l < LANES; ++l) grad[l] = 0.001f * static_cast<float>(l) - 0.03f;
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      fixed.backward(g.data(), z.data(), alpha.data(), grad.data(), gacc.data(), dalpha.data(),
                     dz.data());
    }
  }
  return 1;
}

// Hash codes of a layer, (ceil(rows * cols / LANES), slots, LANES); key as in Codes.
void mfh_hash_codes(const int64_t* key, int slots, int32_t* out, int threads) {
  const int64_t blocks = (key[1] * key[2] + LANES - 1) / LANES;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t blk = 0; blk < blocks; ++blk) hash_block(key, slots, blk, out + blk * slots * LANES);
}

}  // extern "C"
