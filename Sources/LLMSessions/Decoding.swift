import Foundation

/// The JSON coders every model goes through, configured for PostgreSQL's timestamps.
public enum SessionJSON {
    /// A decoder that reads PostgreSQL timestamps (any offset, microseconds kept).
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = PostgresTimestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "expected a timestamp like 2026-11-24T21:30:47.123456+00:00, found \"\(text)\""
                )
            }
            return date
        }
        return decoder
    }

    /// An encoder that writes dates the way PostgreSQL does, so encoded models read back unchanged.
    public static func makeEncoder(prettyPrinted: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(PostgresTimestamp.format(date))
        }
        encoder.outputFormatting = prettyPrinted
            ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The decoder behind `decode`, configured once: `JSONDecoder` is safe to share across threads.
    private static let decoder = makeDecoder()

    /// Decodes a server answer into `type`; failures name the type and the field path.
    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        var text = text
        return try text.withUTF8 { try decode(type, from: UnsafeRawBufferPointer($0)) }
    }

    /// Decodes JSON text in borrowed memory (e.g. a value inside a `PGresult`) without copying it first.
    ///
    /// A whole session can be megabytes of JSON; wrapping the bytes instead of copying them saves
    /// the copy's time and keeps one less copy alive at the peak. `bytes` must outlive the call only:
    /// the decoded model holds copies of everything it keeps.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        let data: Data
        if let base = bytes.baseAddress, !bytes.isEmpty {
            data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none)
        } else {
            data = Data()
        }
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw ResponseDecodingError(error, decoding: type)
        }
    }

    /// Encodes a value to JSON text, e.g. metadata sent as a `jsonb` parameter.
    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try makeEncoder().encode(value), as: UTF8.self)
    }
}

extension ResponseDecodingError {
    /// Describes a `DecodingError` by type, field path and reason.
    init<T>(_ error: DecodingError, decoding type: T.Type) {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.reduce(into: "") { text, key in
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : "." + key.stringValue
                }
            }
        }
        let typeName = String(describing: type)
        switch error {
        case .typeMismatch(let expected, let context):
            self.init(type: typeName, field: path(context.codingPath),
                      reason: "expected \(expected): \(context.debugDescription)")
        case .valueNotFound(let expected, let context):
            self.init(type: typeName, field: path(context.codingPath),
                      reason: "expected \(expected), found null")
        case .keyNotFound(let key, let context):
            self.init(type: typeName, field: path(context.codingPath + [key]), reason: "missing key")
        case .dataCorrupted(let context):
            self.init(type: typeName, field: path(context.codingPath), reason: context.debugDescription)
        @unknown default:
            self.init(type: typeName, field: "", reason: String(describing: error))
        }
    }
}
