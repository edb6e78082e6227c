import Foundation
import Testing
@testable import Script

/// The built-ins for detectors, evaluation and attack tooling, on the bundled MNIST encoder.
@Suite struct DetectorAndAttackBuiltinTests {
    /// A session with the bundled model, its two layers, and the committed test digits split into even
    /// (fit) and odd (evaluation) positions — the file is sorted by class, so halves would miss classes.
    func mnistSession() throws -> Session {
        let session = Session()
        try run("""
            enc = load("Examples/models/mnist_cnn.onnx")
            feat = layer(enc, "features")
            logits = layer(enc, "logits")
            x = npy("Examples/data/mnist/test_images.npy")
            y = npy("Examples/data/mnist/test_labels.npy")
            x_fit = x[0::4]
            y_fit = y[0::4]
            x_test = x[1::8]
            x_ood = noise(60, 1, 28, 28, seed=3)
            """, in: session)
        return session
    }

    @Test func slicesFollowPython() throws {
        let session = Session()
        #expect(try run("[0, 1, 2, 3, 4, 5][1:4]", in: session) == "[1, 2, 3]")
        #expect(try run("[0, 1, 2, 3, 4, 5][::2]", in: session) == "[0, 2, 4]")
        #expect(try run("[0, 1, 2, 3, 4, 5][-2:]", in: session) == "[4, 5]")
        #expect(try run("[0, 1, 2, 3, 4, 5][::-2]", in: session) == "[5, 3, 1]")
        #expect(try run("[0, 1, 2][5:9]", in: session) == "[]")
        #expect(try run("\"mirage\"[1:-1]", in: session) == "\"irag\"")
        #expect(try run("range(10)[7:]", in: session) == "[7, 8, 9]")
        try run("t = zeros(6, 2)\nt[3] = 7", in: session)
        #expect(try run("t[2:5].shape", in: session) == "[3, 2]")
        #expect(try run("sum(t[3:4])", in: session) == "14")
        #expect(try run("t[1::2][1][0]", in: session) == "7")
        #expect(error(of: "[1, 2][::0]")?.message.contains("step cannot be zero") == true)
        #expect(error(of: "[1, 2][\"a\":]")?.kind == .typeError)
        #expect(error(of: "x = [1, 2]\nx[0:1] = 3")?.kind == .syntaxError)
    }

    @Test func npyReadsIntegerLabels() throws {
        let session = try mnistSession()
        #expect(try run("y.shape", in: session) == "[1000]")
        #expect(try run("[min(y), max(y), sum(y == 3)]", in: session) == "[0, 9, 100]")
        #expect(error(of: "npy(\"no/such.npy\")")?.kind == .ioError)
    }

    @Test func logitDetectorsScoreLikeTheirDefinitions() throws {
        let session = try mnistSession()
        try run("s = score(detector(\"msp\", logits), x_test[0:5])\np = msp(logits, x_test[0:5])", in: session)
        // MSP's OOD score is the negated maximum softmax probability.
        #expect(try run("max(abs(s + p)) < 1e-6", in: session) == "true")
        try run("e = score(detector(\"energy\", logits), x_test[0:5])\nm = score(detector(\"maxlogit\", logits), x_test[0:5])", in: session)
        // −logsumexp ≤ −max: energy is never above the negated max logit, and within log(10) of it.
        #expect(try run("max(e - m) <= 1e-5 and min(e - m) >= -2.3026", in: session) == "true")
        #expect(try run("score(detector(\"odin\", logits, temperature=10, eps=0), x_test[0]).shape", in: session) == "[1]")
        #expect(try run("str(detector(\"odin\", logits))", in: session) == "\"Detector(ODIN (T=1000, ε=0.0014) on \\\"logits\\\")\"")
    }

    @Test func auditReportsEveryDetectorAndShowsTheCurves() throws {
        let session = try mnistSession()
        let host = RecordingHost()
        try run("""
            dets = [detector("msp", logits), detector("energy", logits), detector("mahalanobis", feat, fit=x_fit, labels=y_fit),
                    detector("knn", feat, fit=x_fit, k=10), detector("vim", feat, fit=x_fit, logits=logits)]
            t = audit(dets, x_test, x_ood)
            """, in: session, host: host)
        #expect(host.displays.count == 2, "the ROC figure and the histograms")
        #expect(host.displays.allSatisfy { $0.png != nil })
        #expect(try run("len(t.rows)", in: session) == "5")
        #expect(try run("t.detector", in: session) == "[\"MSP\", \"Energy\", \"Mahalanobis\", \"KNN (k=10)\", \"ViM (D=64)\"]")
        #expect(try run("min(t.auroc) >= 0 and max(t.auroc) <= 1", in: session) == "true")
        // Uniform noise is far from every digit in feature space: the feature detectors see it.
        #expect(try run("t.auroc[2] > 0.9 and t.auroc[4] > 0.9", in: session) == "true")
        // The table's AUROC is the one ood_metrics computes from the scores.
        try run("m = ood_metrics(score(dets[2], x_test), score(dets[2], x_ood))", in: session)
        #expect(try run("abs(m.auroc[0] - t.auroc[2]) < 1e-12", in: session) == "true")
        let table = try #require(try session.execute("t", host: RecordingHost()))
        #expect(table.html?.contains("<th>AUROC</th>") == true)
        #expect(table.plain.contains("FPR@95%TPR (ID positive"))
        #expect(try run("ood_metrics([0, 1], [2, 3], fpr=\"ood\").fpr95", in: session) == "[0]")
        #expect(try run("t.plot", in: session)?.hasPrefix("figure: 2x3, ROC plot: raw OOD AUROC") == true)
    }

    @Test func attackedOODLooksInDistribution() throws {
        let session = try mnistSession()
        try run("""
            maha = detector("mahalanobis", feat, fit=x_fit, labels=y_fit)
            atk = ood_attack(feat, source=x_ood[0:16], target=x_test[0:16], eps=10, seed=0)
            step(atk, 150)
            t = audit([maha], x_test, x_ood[0:16], attacked=atk, show=false)
            """, in: session)
        #expect(try run("t.ood", in: session) == "[\"raw OOD\", \"attacked OOD\"]")
        #expect(try run("t.auroc[0] > 0.9", in: session) == "true")
        #expect(try run("t.auroc[1] < 0.75", in: session) == "true")
    }

    @Test func detectorArgumentsAreChecked() throws {
        let session = try mnistSession()
        #expect(error(of: "detector(\"mahalanobs\", feat)", in: session)?.hint?.hasPrefix("did you mean \"mahalanobis\"?") == true)
        #expect(error(of: "detector(\"mahalanobis\", feat, fit=x_fit)", in: session)?.message.contains("needs the class `labels`") == true)
        #expect(error(of: "detector(\"mahalanobis\", feat, fit=x_fit, labels=[1, 2])", in: session)?.message.contains("2 labels for 250") == true)
        #expect(error(of: "detector(\"msp\", logits, temperature=2)", in: session)?.message.contains("only for \"energy\" and \"odin\"") == true)
        #expect(error(of: "detector(\"knn\", feat)", in: session)?.message.contains("pass `fit=`") == true)
        #expect(error(of: "detector(\"vim\", feat, fit=x_fit)", in: session)?.message.contains("needs `logits=`") == true)
        #expect(error(of: "detector(\"vim\", logits, fit=x_fit, logits=feat)", in: session)?.message.contains("linear layer") == true)
        #expect(error(of: "score(feat, x_test)", in: session)?.message.contains("expects a detector") == true)
        #expect(error(of: "ood_metrics([1], [2], fpr=\"both\")", in: session)?.hint == "use \"in\" (classic) or \"ood\" (OpenOOD)")
    }

    @Test func savedAttackContinuesBitForBit() throws {
        let session = try mnistSession()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mirage-\(UUID().uuidString).attack").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try run("""
            atk = ood_attack(feat, source=spiral(28, 28, channels=1, seed=2), target=x_test[0], seed=4, best=true)
            step(atk, 7)
            save(atk, "\(path)")
            again = load_attack("\(path)")
            step(atk, 5)
            step(again, 5)
            """, in: session)
        #expect(try run("again.steps", in: session) == "12")
        #expect(try run("atk.loss == again.loss and sum(atk.x != again.x) == 0 and sum(atk.best != again.best) == 0", in: session) == "true")
        #expect(try run("again.x.shape", in: session) == "[1, 28, 28]")
        #expect(error(of: "save(atk, \"a.png\")", in: session)?.hint?.contains(".attack") == true)
        #expect(error(of: "load_attack(\"Examples/models/mnist_cnn.onnx\")", in: session)?.message.contains("not a Mirage attack file") == true)
    }

    @Test func attackOptionsAndMetrics() throws {
        let session = try mnistSession()
        #expect(try run("str(ood_attack(feat, source=x_ood[0], target=x_test[0], eps=4))", in: session)?.contains("lr=0.04") == true)
        #expect(try run("str(ood_attack(feat, source=x_ood[0], target=x_test[0], preset=\"medical\"))", in: session)?.contains("eps=20, lr=0.01") == true)
        try run("""
            both = layer(enc, ["features", "logits"])
            atk = ood_attack(both, source=x_ood[0:3], target=x_test[0:3], weights=[1, 0.5], schedule=[[5, 0.01]], seed=1)
            step(atk, 10)
            t = attack_metrics(atk, logits=logits)
            """, in: session)
        #expect(try run("t.columns", in: session) == "[\"sample\", \"mape\", \"feature_l2\", \"cosine\", \"delta_l2\", \"delta_linf\", \"pred_in\", \"pred_out\", \"pred_adv\"]")
        #expect(try run("t.mape == mape(atk)", in: session) == "true")
        #expect(try run("max(t.delta_l2) <= 10.0001", in: session) == "true")
        #expect(try run("t.pred_in == predict(logits, x_test[0:3])", in: session) == "true")
        #expect(error(of: "ood_attack(both, source=x_ood[0], target=x_test[0], weights=[1])", in: session)?.message.contains("1 weights for 2") == true)
        #expect(error(of: "ood_attack(feat, source=x_ood[0], target=x_test[0], schedule=[[1.5, 0.1]])", in: session)?.kind == .valueError)
        #expect(error(of: "ood_attack(feat, source=x_ood[0], target=x_test[0], eps=-1)", in: session)?.message.contains("`eps` must be a positive number") == true)
        #expect(error(of: "ood_attack(feat, source=x_ood[0], target=x_test[0], preset=\"imagenet\")", in: session)?.kind == .valueError)
    }

    @Test func classicAttacksStayInTheirBall() throws {
        let session = try mnistSession()
        try run("""
            xs = x_test[0:20]
            ys = y[1::8][0:20]
            adv = pgd(logits, xs, ys, eps=0.15, steps=20, seed=0)
            fast = fgsm(logits, xs, ys, eps=0.1)
            """, in: session)
        #expect(try run("max(abs(adv - xs)) <= 0.15 + 1e-6 and min(adv) >= 0 and max(adv) <= 1", in: session) == "true")
        #expect(try run("max(abs(fast - xs)) <= 0.1 + 1e-6", in: session) == "true")
        // PGD at this budget changes most predictions of a plain (not adversarially trained) CNN.
        #expect(try run("sum(predict(logits, adv) == ys) < sum(predict(logits, xs) == ys) - 5", in: session) == "true")
        #expect(try run("predict(logits, x_test[0])", in: session) == "0")
        #expect(error(of: "pgd(logits, xs, [1, 2], eps=0.1)", in: session)?.message.contains("2 labels for 20 images") == true)
    }

    @Test func jacobianSpectrumAddsUp() throws {
        let session = try mnistSession()
        try run("spec = jacobian_spectrum(feat, x_test[3])", in: session)
        #expect(try run("[spec.input_dim, spec.output_dim]", in: session) == "[784, 128]")
        #expect(try run("spec.rank + spec.local_dim == 784 and spec.rank <= 128", in: session) == "true")
        #expect(try run("len(spec.values)", in: session) == "128")
        #expect(try run("spec.values[0] >= spec.values[1] and spec.values[1] >= spec.values[-1]", in: session) == "true")
        #expect(try run("len(jacobian_spectrum(feat, x_test[3], k=5).values)", in: session) == "5")
        let shown = try #require(try session.execute("spec", host: RecordingHost()))
        #expect(shown.png != nil && shown.plain.contains("784 − "))
        #expect(error(of: "jacobian_spectrum(feat, x_test[0:2])", in: session)?.message.contains("takes one image") == true)
    }

    @Test func histogramAndROCPlots() throws {
        let session = Session()
        #expect(try run("histogram([noise(100, seed=1), noise(50, seed=2)], labels=[\"a\", \"b\"], bins=10, density=true)", in: session)
            == "histogram: 2 series, 150 values, 10 bins from 0.01098 to 0.9997, density")
        let roc = try #require(try run("roc([0, 1, 2], [[3, 4], [0.5, 1.5]], labels=[\"far\", \"mixed\"])", in: session))
        #expect(roc.contains("far AUROC 1") && roc.contains("mixed AUROC 0.5"))
    }

    @Test func tensorsFromListsAndBackToNumbers() throws {
        let session = Session()
        #expect(try run("tensor([[1, 2], [3, 4]]).shape", in: session) == "[2, 2]")
        #expect(try run("tensor([1, 2, 3]) * [1, 0, 2]", in: session)?.contains("max=6") == true)
        #expect(error(of: "tensor([[1, 2], [3]])")?.message.contains("rectangular") == true)
        #expect(try run("[quantile([3, 1, 2, 4], 0.5), quantile(tensor([5, 1]), 0), quantile(range(11), 0.9)]", in: session) == "[2.5, 1, 9]")
        #expect(error(of: "quantile([1], 2)")?.kind == .valueError)
        #expect(try run("[argmax([1, 5, 5, 2]), argmax(tensor([[0, 9], [7, 1]]))]", in: session) == "[1, [1, 0]]")
        #expect(try run("stack([zeros(2, 3), ones(2, 3)]).shape", in: session) == "[2, 2, 3]")
        #expect(try run("concat([zeros(2, 3), ones(4, 3)]).shape", in: session) == "[6, 3]")
        #expect(try run("sum(concat([zeros(2, 3), ones(4, 3)])[2:])", in: session) == "12")
        #expect(error(of: "stack([zeros(2), zeros(3)])")?.kind == .shapeError)
        #expect(error(of: "concat([zeros(2, 3), zeros(2, 4)])")?.kind == .shapeError)
        #expect(error(of: "concat([])")?.message.contains("non-empty list") == true)
    }

    @Test func emptyBatchesAndBadPathsAreClearErrors() throws {
        let session = try mnistSession()
        #expect(error(of: "predict(logits, x_test[0:0])", in: session)?.message.contains("empty batch") == true)
        #expect(error(of: "score(detector(\"odin\", logits), x_test[0:0])", in: session)?.message.contains("empty batch") == true)
        #expect(error(of: "detector(\"knn\", feat, fit=x_fit[0:0])", in: session)?.message.contains("empty batch") == true)
        #expect(error(of: "pgd(logits, x_test[0:2], [50, 3], eps=0.1)", in: session)?.message.contains("label 50") == true)
        let unwritable = try #require(error(of: "save(ood_attack(feat, source=x_ood[0], target=x_test[0]), \"/nonexistent/dir/a.attack\")", in: session))
        #expect(unwritable.kind == .ioError && unwritable.message.contains("cannot write"))
    }
}
