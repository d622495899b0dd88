import CFuzzerDriver
import Glibc
import NIOCore
import PGOutput

/// libFuzzer target for the pgoutput decoder: every input is decoded as a replication message
/// and as a pgoutput message under each protocol version, in and out of a stream. Decoding must
/// throw or succeed, never crash; decoded Relations and Inserts also go through the relation cache.
@main
enum PGOutputFuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
    }
}

/// Exported under libFuzzer's name too, so the fuzzer works whichever `main` the linker keeps
/// (SwiftPM aliases `main` to this target's entry point; libFuzzer brings its own).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: data == nil ? 0 : size))
    _ = try? ReplicationMessage.decode(from: buffer)
    var cache = RelationCache()
    for version in 1...4 {
        for inStream in [false, true] {
            guard let message = try? PGOutputMessage.decode(from: buffer, protocolVersion: version, inStream: inStream) else { continue }
            switch message {
            case .relation(let relation):
                cache.apply(relation)
                _ = try? cache.columns(of: TupleData(values: Array(repeating: .null, count: relation.columns.count)), relationOID: relation.oid)
            case .insert(let insert):
                _ = try? cache.columns(of: insert.newTuple, relationOID: insert.relationOID)
                _ = insert.newTuple.values.map(\.textValue)
            default:
                break
            }
        }
    }
    return 0
}
