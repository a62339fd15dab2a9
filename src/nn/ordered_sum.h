// Sums in a fixed order. Eigen's vectorised reductions (sum(), rowwise().sum() over contiguous
// rows) peel scalars until the data is aligned, so the order of the additions, and the last bits
// of the result, depend on where the heap placed the buffer. Training must not depend on that (a
// resumed run, a run with --hints on, must match an uninterrupted one bit for bit), so every sum
// that feeds a gradient or an activation goes through these plain loops.
#pragma once

#include <Eigen/Core>
#include <cmath>

namespace nnet {

// The sum of v's coefficients, added in index order.
template <class Derived>
typename Derived::Scalar ordered_sum(const Eigen::DenseBase<Derived>& v) {
  typename Derived::Scalar s(0);
  for (Eigen::Index i = 0; i < v.size(); ++i) s += v.derived().coeff(i);
  return s;
}

// The Euclidean norm of v, its squares added in index order.
template <class Derived>
typename Derived::Scalar ordered_norm(const Eigen::DenseBase<Derived>& v) {
  using std::sqrt;
  typename Derived::Scalar s(0);
  for (Eigen::Index i = 0; i < v.size(); ++i) s += v.derived().coeff(i) * v.derived().coeff(i);
  return sqrt(s);
}

// out[r] += the sum of row r of d, its columns added left to right.
template <class D, class Out>
void add_row_sums(const Eigen::MatrixBase<D>& d, Out&& out) {
  for (Eigen::Index r = 0; r < d.rows(); ++r) {
    typename D::Scalar s(0);
    for (Eigen::Index j = 0; j < d.cols(); ++j) s += d.derived().coeff(r, j);
    out[r] += s;
  }
}

}  // namespace nnet
