import Foundation

/// Small dense linear algebra in Double, row-major, for detectors and the Jacobian spectrum.
public enum LinearAlgebra {
    /// Cholesky factor L (lower, row-major) of a symmetric positive-definite n×n matrix; nil if not positive definite.
    public static func cholesky(_ a: [Double], n: Int) -> [Double]? {
        precondition(a.count == n * n, "cholesky: \(a.count) values for a \(n)×\(n) matrix")
        var l = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            var d = a[j * n + j]
            for k in 0..<j { d -= l[j * n + k] * l[j * n + k] }
            guard d > 0, d.isFinite else { return nil }
            let ljj = d.squareRoot()
            l[j * n + j] = ljj
            for i in (j + 1)..<max(j + 1, n) {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                l[i * n + j] = s / ljj
            }
        }
        return l
    }

    /// Cholesky of A + λI with λ = relativeRidge·trace(A)/n (λ = relativeRidge if the trace is 0), multiplying λ by
    /// 10 until the factorisation succeeds (at most 12 times). Returns L and the ridge used.
    public static func choleskyWithRidge(_ a: [Double], n: Int, relativeRidge: Double = 1e-6) throws -> (factor: [Double], ridge: Double) {
        var trace = 0.0
        for i in 0..<n { trace += a[i * n + i] }
        var ridge = relativeRidge * (trace > 0 ? trace / Double(n) : 1)
        for _ in 0...12 {
            var b = a
            for i in 0..<n { b[i * n + i] += ridge }
            if let l = cholesky(b, n: n) { return (l, ridge) }
            ridge *= 10
        }
        throw AttackError.notPositiveDefinite("the \(n)×\(n) covariance is not positive definite even with a ridge of \(ridge)")
    }

    /// Solves L y = b for lower-triangular L.
    public static func solveLower(_ l: [Double], n: Int, _ b: [Double]) -> [Double] {
        var y = b
        for i in 0..<n {
            var s = y[i]
            for k in 0..<i { s -= l[i * n + k] * y[k] }
            y[i] = s / l[i * n + i]
        }
        return y
    }

    /// Solves Lᵀ x = y for lower-triangular L.
    public static func solveUpperTransposed(_ l: [Double], n: Int, _ y: [Double]) -> [Double] {
        var x = y
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = x[i]
            for k in (i + 1)..<max(i + 1, n) { s -= l[k * n + i] * x[k] }
            x[i] = s / l[i * n + i]
        }
        return x
    }

    /// Eigen-decomposition of a symmetric n×n matrix by cyclic Jacobi rotations.
    /// Returns eigenvalues in descending order and the eigenvectors as the columns of a row-major n×n matrix.
    public static func symmetricEigen(_ matrix: [Double], n: Int, tolerance: Double = 1e-14, maxSweeps: Int = 100) -> (values: [Double], vectors: [Double]) {
        precondition(matrix.count == n * n, "symmetricEigen: \(matrix.count) values for a \(n)×\(n) matrix")
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        var scale = 0.0
        for x in a { scale += x * x }
        scale = scale.squareRoot()
        if n > 1 && scale > 0 {
            for _ in 0..<maxSweeps {
                var off = 0.0
                for p in 0..<n { for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] } }
                if off.squareRoot() <= tolerance * scale { break }
                for p in 0..<(n - 1) {
                    for q in (p + 1)..<n {
                        let apq = a[p * n + q]
                        if apq == 0 { continue }
                        let app = a[p * n + p], aqq = a[q * n + q]
                        let theta = (aqq - app) / (2 * apq)
                        let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                        let c = 1 / (t * t + 1).squareRoot()
                        let s = t * c
                        // A ← Jᵀ A J on rows/columns p and q.
                        for k in 0..<n {
                            let akp = a[k * n + p], akq = a[k * n + q]
                            a[k * n + p] = c * akp - s * akq
                            a[k * n + q] = s * akp + c * akq
                        }
                        for k in 0..<n {
                            let apk = a[p * n + k], aqk = a[q * n + k]
                            a[p * n + k] = c * apk - s * aqk
                            a[q * n + k] = s * apk + c * aqk
                        }
                        a[p * n + q] = 0
                        a[q * n + p] = 0
                        for k in 0..<n {
                            let vkp = v[k * n + p], vkq = v[k * n + q]
                            v[k * n + p] = c * vkp - s * vkq
                            v[k * n + q] = s * vkp + c * vkq
                        }
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0 * n + $0] > a[$1 * n + $1] }
        let values = order.map { a[$0 * n + $0] }
        var vectors = [Double](repeating: 0, count: n * n)
        for (newCol, oldCol) in order.enumerated() {
            for r in 0..<n { vectors[r * n + newCol] = v[r * n + oldCol] }
        }
        return (values, vectors)
    }
}
