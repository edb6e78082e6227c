import Testing
import Tensor

@Suite struct TensorTests {
    @Test func broadcasting() throws {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let row = Tensor(shape: [3], data: [10, 20, 30])
        #expect(try a + row == Tensor(shape: [2, 3], data: [11, 22, 33, 14, 25, 36]))
        let column = Tensor(shape: [3, 1], data: [1, 2, 3])
        let line = Tensor(shape: [1, 4], data: [0, 10, 20, 30])
        #expect(try column * line == Tensor(shape: [3, 4], data: [0, 10, 20, 30, 0, 20, 40, 60, 0, 30, 60, 90]))
        #expect(Tensor.broadcastShape([8, 1, 6, 1], [7, 1, 5]) == [8, 7, 6, 5])
        #expect(Tensor.broadcastShape([2, 3], [4]) == nil)
        #expect(throws: TensorError.shapeMismatch([2, 3], [2])) { try a + Tensor.zeros([2]) }
        #expect(try a.applying(.greater, Tensor(scalar: 3)).data == [0, 0, 0, 1, 1, 1])
        #expect(a.applying(.remainder, scalar: -4).data == [-3, -2, -1, 0, -3, -2])
        #expect(a.applying(.subtract, scalar: 10, scalarOnLeft: true).data == [9, 8, 7, 6, 5, 4])
    }

    @Test func reductionsAndSlices() {
        var t = Tensor(shape: [3, 2], data: [1, -2, 3, 4, 5, 6])
        #expect(t.sum() == 17)
        #expect(abs(t.mean() - 17.0 / 6) < 1e-6)
        #expect(t.min() == -2 && t.max() == 6)
        #expect(Tensor.zeros([0]).min() == nil)
        #expect(t.slice(1) == Tensor(shape: [2], data: [3, 4]))
        t.setSlice(2, to: Tensor(shape: [2], data: [0, 0]))
        #expect(t.data == [1, -2, 3, 4, 0, 0])
        #expect(t.reshaped([2, 3])?.shape == [2, 3])
        #expect(t.reshaped([4]) == nil)
        #expect(Tensor.ones([2, 2]).count == 4 && Tensor.ones([2, 2]).rank == 2)
    }

    @Test func seededGeneratorIsDeterministic() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let xs = (0..<5).map { _ in a.next() }
        #expect(xs == (0..<5).map { _ in b.next() })
        #expect(xs != (0..<5).map { _ in c.next() })
        var g = SeededGenerator(seed: 1)
        let u = Tensor.uniform([20_000], using: &g)
        #expect(u.min()! >= 0 && u.max()! < 1)
        #expect(abs(u.mean() - 0.5) < 0.01)
        let n = Tensor.normal([20_001], mean: 2, std: 3, using: &g)
        #expect(abs(n.mean() - 2) < 0.1)
        let variance = n.data.reduce(0.0) { $0 + Double(($1 - 2) * ($1 - 2)) } / Double(n.count)
        #expect(abs(variance - 9) < 0.3)
    }
}
