import Testing
import Foundation
import Tensor
@testable import Graph

@Suite struct EncoderThreadTests {
    /// The kernel runs each cell on a thread of its own: kernels made on one thread run on others.
    /// The attack may run forward more than once before the pullback.
    @Test func twoForwardsThenPullback() throws {
        let encoder = try Model(path: "Examples/models/mnist_cnn.onnx").encoder(outputs: ["features"])
        let x = randomTensor([1, 1, 28, 28], seed: 400, range: 0...1)
        let y = try encoder.forward(x)[0]
        _ = try encoder.forward(x)
        _ = try encoder.pullback([Tensor.ones(y.shape)])
    }

    @Test func kernelsMadeOnOneThreadRunOnAnother() throws {
        let model = try Model(path: "Examples/models/mnist_cnn.onnx")
        nonisolated(unsafe) let encoder = try model.encoder(outputs: ["features"])
        let x = randomTensor([1, 1, 28, 28], seed: 400, range: 0...1)
        func onThread(_ body: @escaping () throws -> Void) throws {
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var failure: Error?
            nonisolated(unsafe) let work = body
            let thread = Thread { do { try work() } catch { failure = error }; done.signal() }
            thread.start()
            done.wait()
            if let failure { throw failure }
        }
        nonisolated(unsafe) var y: Tensor?
        try onThread { y = try encoder.forward(x)[0] }
        nonisolated(unsafe) var g: Tensor?
        try onThread { _ = try encoder.forward(x); g = try encoder.pullback([Tensor.ones(y!.shape)]) }
        _ = try encoder.forward(x)
        #expect(try encoder.pullback([Tensor.ones(y!.shape)]) == g)
    }
}
