// check_gradient on the bundled MNIST encoder: the verdict, its attributes, and bad arguments.
import Testing
@testable import Script

@Suite struct CheckGradientBuiltinTests {
    @Test func checksTheBundledEncoder() throws {
        let session = Session()
        try run("""
            enc = load("Examples/models/mnist_cnn.onnx")
            feat = layer(enc, "features")
            x = npy("Examples/data/mnist/test_images.npy")[0]
            c = check_gradient(feat, x, directions=2, seed=1)
            """, in: session)
        #expect(try run("c.verdict", in: session) == "\"ok\"")
        #expect(try run("c.error < 0.01", in: session) == "true")
        #expect(try run("c.forward_mismatch == none", in: session) == "true")
        #expect(try run("c.first_wrong_gradient == none", in: session) == "true")
        #expect(try run("c", in: session)?.contains("gradient check of Σ features²") == true)
        #expect(error(of: "check_gradient(enc, x)", in: session)?.message.contains("expects a layer") == true)
        #expect(error(of: "check_gradient(feat, x, directions=0)", in: session) != nil)
    }
}
