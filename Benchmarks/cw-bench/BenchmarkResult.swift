import Foundation

/// One benchmark's figures: printed as a table and written as JSON, so runs can be compared.
struct BenchmarkResult: Codable {
    struct Row: Codable {
        var label: String
        var value: Double
        var unit: String
    }

    var name: String
    var parameters: [String: String]
    var rows: [Row]
    var machine = BenchmarkResult.machineDescription()
    var date = ISO8601DateFormatter().string(from: Date())

    /// Prints the table and writes the JSON file (creating its directory).
    func report(to path: String) throws {
        print("\(name)  (\(machine))")
        for (key, value) in parameters.sorted(by: { $0.key < $1.key }) {
            print("  \(key) = \(value)")
        }
        let width = rows.map(\.label.count).max() ?? 0
        for row in rows {
            let value = row.unit == "ratio" || row.value < 100 ? String(format: "%.2f", row.value) : String(format: "%.0f", row.value)
            print("  \(row.label.padding(toLength: width, withPad: " ", startingAt: 0))  \(value.leftPadded(to: 12)) \(row.unit)")
        }
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url)
        print("  written to \(path)")
    }

    static func machineDescription() -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu)"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
