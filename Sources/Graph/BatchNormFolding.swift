import Tensor

/// A load-time pass: an inference BatchNormalization right after a Conv is a per-channel affine
/// map y = s·z + t of the convolution's output z, so it folds into the convolution's weights and
/// bias (W′[o] = s[o]·W[o], b′[o] = s[o]·b[o] + t[o]) and the model runs without BN nodes. Only
/// when the Conv's weights and the BN's statistics are constants, and nothing else reads the
/// Conv's output (which then disappears as a named tensor).
enum BatchNormFolding {
    /// The nodes with each foldable Conv → BN pair made one Conv, and the names of the folded
    /// weights and biases added to `constants`.
    static func fold(_ nodes: [Node], constants: inout [String: RuntimeValue], keeping outputs: Set<String>) throws -> (nodes: [Node], parameters: Set<String>) {
        var readers: [String: Int] = [:]
        for node in nodes { for name in node.inputs where !name.isEmpty { readers[name, default: 0] += 1 } }
        var producer: [String: Int] = [:]
        for (k, node) in nodes.enumerated() { for name in node.outputs where !name.isEmpty { producer[name] = k } }
        var result = nodes
        var removed = Set<Int>()
        var parameters = Set<String>()
        for (k, bn) in nodes.enumerated() where bn.opType == "BatchNormalization" {
            guard bn.inputs.count == 5, bn.attributes["training_mode"] == nil || bn.attributes["training_mode"] == .int(0),
                  bn.outputs.count == 1 || bn.outputs.dropFirst().allSatisfy(\.isEmpty),
                  bn.inputs.dropFirst().allSatisfy({ constants[$0] != nil }),
                  let c = producer[bn.inputs[0]], nodes[c].opType == "Conv", !removed.contains(c),
                  readers[bn.inputs[0]] == 1, !outputs.contains(bn.inputs[0]) else { continue }
            let conv = result[c]
            guard conv.inputs.count >= 2, case .float(let weight)? = constants[conv.inputs[1]] else { continue }
            let bias: Tensor?
            if conv.inputs.count > 2, !conv.inputs[2].isEmpty {
                guard case .float(let b)? = constants[conv.inputs[2]] else { continue }
                bias = b
            } else {
                bias = nil
            }
            let (scale, shift) = try BatchNormalization(node: bn).affine(bn.inputs.map { constants[$0] })
            let channels = weight.shape.first ?? 0
            guard scale.count == channels, bias.map({ $0.count == channels }) ?? true else { continue }
            var folded = weight
            let perChannel = weight.count / max(channels, 1)
            for i in 0..<folded.count { folded.data[i] *= scale[i / perChannel] }
            let foldedBias = Tensor(shape: [channels], data: (0..<channels).map { scale[$0] * (bias?.data[$0] ?? 0) + shift[$0] })
            let weightName = uniqueName(bn.outputs[0] + "::folded_weight", in: constants)
            constants[weightName] = .float(folded)
            let biasName = uniqueName(bn.outputs[0] + "::folded_bias", in: constants)
            constants[biasName] = .float(foldedBias)
            result[c] = Node(name: conv.name, opType: "Conv", domain: conv.domain, inputs: [conv.inputs[0], weightName, biasName],
                             outputs: [bn.outputs[0]], attributes: conv.attributes)
            removed.insert(k)
            parameters.formUnion([weightName, biasName])
        }
        return (result.enumerated().filter { !removed.contains($0.offset) }.map(\.element), parameters)
    }

    private static func uniqueName(_ base: String, in constants: [String: RuntimeValue]) -> String {
        var name = base, n = 1
        while constants[name] != nil { n += 1; name = "\(base)\(n)" }
        return name
    }
}
