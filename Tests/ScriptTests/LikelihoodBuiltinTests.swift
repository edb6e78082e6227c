// The language's likelihood detectors, attacks on several models at once and scalar targets, on the bundled Glow.
import Foundation
import Testing
@testable import Script

@Suite struct LikelihoodBuiltinTests {
    func glowSession() throws -> Session {
        let session = Session()
        try run("""
            nll = layer(load("Examples/models/glow_mnist.onnx"), "bpd")
            nll_bg = layer(load("Examples/models/glow_mnist_background.onnx"), "bpd")
            enc = load("Examples/models/mnist_cnn.onnx")
            feat = layer(enc, "features")
            logits = layer(enc, "logits")
            x = npy("Examples/data/mnist/test_images.npy")
            x_fit = x[0::50]
            x_test = x[1::100]
            x_ood = noise(4, 1, 28, 28, seed=3)
            """, in: session)
        return session
    }

    @Test func likelihoodDetectorsScoreFromBitsPerDim() throws {
        let session = try glowSession()
        try run("b = encode(nll, x_test)\nb_bg = encode(nll_bg, x_test)", in: session)
        #expect(try run("b.shape", in: session) == "[10]")
        #expect(try run("max(abs(score(detector(\"likelihood\", nll), x_test) - b)) == 0", in: session) == "true")
        #expect(try run("max(abs(score(detector(\"likelihood_ratio\", nll, background=nll_bg), x_test) - (b - b_bg))) < 1e-5", in: session) == "true")
        try run("m = mean(encode(nll, x_fit))", in: session)
        #expect(try run("max(abs(score(detector(\"typicality\", nll, fit=x_fit), x_test) - abs(b - m))) < 1e-4", in: session) == "true")
        // Complexity subtracts a positive code length: below the likelihood, by under 8 bits/dim.
        try run("c = score(detector(\"complexity\", nll), x_test)", in: session)
        #expect(try run("[max(c - b) < 0, min(c - b) > -8]", in: session) == "[true, true]")
        #expect(try run("str(detector(\"likelihood_ratio\", nll, background=nll_bg))", in: session)
            == "\"Detector(likelihood ratio on \\\"bpd\\\", \\\"bpd\\\")\"")
        #expect(try run("detector(\"typicality\", nll, fit=x_fit).kind", in: session) == "\"typicality\"")
        // msp() and detector("msp") share one code path.
        #expect(try run("max(abs(tensor(msp(logits, x_test)) + score(detector(\"msp\", logits), x_test))) == 0", in: session) == "true")
    }

    @Test func badLikelihoodArgumentsAreNamed() throws {
        let session = try glowSession()
        #expect(error(of: "score(detector(\"likelihood\", feat), x_test)", in: session)?.message
            .contains("layer 'features' has shape [10, 128], expected one value per image") == true)
        #expect(error(of: "detector(\"likelihood_ratio\", nll)", in: session)?.message.contains("needs `background=`") == true)
        #expect(error(of: "detector(\"likelihood\", nll, background=nll_bg)", in: session)?.message.contains("`background` only for \"likelihood_ratio\"") == true)
        #expect(error(of: "detector(\"typicality\", nll)", in: session)?.message.contains("pass `fit=`") == true)
        #expect(error(of: "detector(\"likelihood\", nll, fit=x_fit)", in: session)?.message.contains("needs no fitting") == true)
        try run("shuffle = layer(load(\"Examples/models/shufflenet_v2_x0_5.onnx\"), \"features\")", in: session)
        #expect(error(of: "detector(\"likelihood_ratio\", nll, background=shuffle)", in: session)?.message
            .contains("reads images that has shape [3, 224, 224], expected [1, 28, 28]") == true)
        // Attacks: a number as target needs a scalar layer; non-finite values; models with different inputs.
        #expect(error(of: "ood_attack(feat, source=x_ood, target=3.2)", in: session)?.message
            .contains("layer \"features\" gives 128 values per image") == true)
        #expect(error(of: "ood_attack(nll, source=x_ood, target=[1, 2, 3])", in: session)?.message.contains("3 target values for 4 sources") == true)
        for bad in ["tensor([1]) / 0", "tensor([0]) / 0"] {
            #expect(error(of: "ood_attack(nll, source=x_ood, target=\(bad))", in: session)?.message.contains("target values must be finite") == true)
        }
        #expect(error(of: "ood_attack([feat, shuffle], source=x_ood, target=x_test[0])", in: session)?.message
            .contains("layers of one attack must read the same images") == true)
        #expect(error(of: "ood_attack([feat, nll], source=x_ood, target=x_test[0], weights=[1])", in: session)?.message.contains("1 weights for 2 layer tensors") == true)
    }

    @Test func scalarTargetsAndJointAttacks() throws {
        let session = try glowSession()
        // Any likelihood you like: bits/dim of noise (about 14) driven to 6.
        try run("atk = ood_attack(nll, source=x_ood, target=6, eps=15, lr=0.05, init=\"zero\", schedule=[[60, 0.01]])\nstep(atk, 80)", in: session)
        #expect(try run("max(abs(encode(nll, atk.x) - 6)) < 0.1", in: session) == "true")
        #expect(try run("[atk.x_in]", in: session) == "[none]")
        // One value per source, and mape as |Δ| / |target|.
        try run("t = tensor([6, 7, 8, 9])\natk2 = ood_attack(nll, source=x_ood, target=t, eps=15, lr=0.05, init=\"zero\", schedule=[[60, 0.01]])\nstep(atk2, 80)", in: session)
        #expect(try run("max(abs(tensor(mape(atk2)) - abs(encode(nll, atk2.x) - t) / t)) < 1e-5", in: session) == "true")
        // Three models' layers in one loss: features, bits/dim and the background's bits/dim move toward the digit's.
        try run("j = ood_attack([feat, nll, nll_bg], source=x_ood, target=x_test[0], weights=[1, 100, 100], eps=15, lr=0.1, init=\"zero\")", in: session)
        try run("m0 = [mape(j)[0], mape(j, layer=nll)[0], mape(j, layer=nll_bg)[0]]\nstep(j, 40)\nm1 = [mape(j)[0], mape(j, layer=nll)[0], mape(j, layer=nll_bg)[0]]", in: session)
        #expect(try run("[m1[0] < m0[0], m1[1] < m0[1], m1[2] < m0[2]]", in: session) == "[true, true, true]")
        #expect(try run("len(j.layer)", in: session) == "3")
        #expect(error(of: "mape(j, layer=logits)", in: session)?.message.contains("must be one of the attack's layers") == true)
        #expect(error(of: "save(j, \"/tmp/joint.attack\")", in: session)?.message.contains("cannot be saved yet") == true)
    }
}
