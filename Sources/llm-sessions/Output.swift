import Foundation
import LLMSessions

/// Writing results: aligned tables for people, stable JSON for scripts.
enum Output {
    /// Every JSON the tool prints goes through the library's encoder: sorted keys, timestamps as
    /// PostgreSQL writes them, so scripts see the same shapes as the SQL API.
    static func json<T: Encodable>(_ value: T) throws -> String {
        let text = String(decoding: try SessionJSON.makeEncoder(prettyPrinted: true).encode(value), as: UTF8.self)
        // Foundation pretty-prints an empty object or array over three lines; a newline inside a
        // JSON string is always escaped, so a bare one is layout and `{}` / `[]` can be restored.
        return text.replacingOccurrences(of: #"([\[{])\n\s*\n\s*([\]}])"#, with: "$1$2", options: .regularExpression)
    }

    /// Prints a value as JSON on stdout.
    static func printJSON<T: Encodable>(_ value: T) throws {
        print(try json(value))
    }

    /// A value as JSON on one line, keys sorted (JSON Lines: `watch --json`, summaries on stderr).
    static func jsonLine<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try SessionJSON.makeEncoder().encode(value), as: UTF8.self)
    }

    /// A JSON value on one line, keys sorted (metadata in tables).
    static func compact(_ value: JSONValue) -> String {
        guard let data = try? SessionJSON.makeEncoder().encode(value) else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A one-line excerpt of a text: newlines become spaces, long texts end in an ellipsis.
    static func excerpt(_ text: String, limit: Int) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        guard line.count > limit else { return line }
        return line.prefix(max(limit - 1, 0)).trimmingCharacters(in: .whitespaces) + "…"
    }

    /// A timestamp for people: UTC, to the second.
    static func human(_ date: Date) -> String {
        let full = PostgresTimestamp.format(date)   // 2026-11-24T21:30:47.123456+00:00
        return String(full.prefix(19)).replacingOccurrences(of: "T", with: " ") + "Z"
    }
}

/// A table whose columns line up; numbers align right.
struct Table {
    enum Alignment { case left, right }

    struct Column {
        var header: String
        var alignment: Alignment = .left
    }

    var columns: [Column]
    var rows: [[String]] = []

    init(_ columns: Column...) { self.columns = columns }

    mutating func append(_ row: String...) { rows.append(row) }

    /// The table as lines: a header row, then one line per row, two spaces between columns.
    func render() -> String {
        let all = [columns.map(\.header)] + rows
        let widths = columns.indices.map { index in
            all.map { index < $0.count ? $0[index].count : 0 }.max() ?? 0
        }
        return all.map { row in
            columns.indices.map { index -> String in
                let cell = index < row.count ? row[index] : ""
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                return columns[index].alignment == .right ? padding + cell : cell + padding
            }
            .joined(separator: "  ")
            .replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        .joined(separator: "\n")
    }
}

/// Key/value lines with the keys padded to one width (session headers, reports).
func keyValueLines(_ pairs: [(String, String)], indent: String = "") -> String {
    let width = pairs.map(\.0.count).max() ?? 0
    return pairs.map { key, value in
        indent + key + String(repeating: " ", count: width - key.count) + "  " + value
    }
    .joined(separator: "\n")
}

/// "1 turn", "2 turns".
func plural(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}

/// Writes text to stderr as it is, without the error prefix (progress and summaries).
func writeToStandardError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// A byte count for people: `512 B`, `1.5 KiB`, `12.0 MiB`.
func humanBytes(_ bytes: Int64) -> String {
    guard bytes >= 1024 else { return "\(bytes) B" }
    var value = Double(bytes) / 1024
    for unit in ["KiB", "MiB", "GiB"] {
        if value < 1024 { return String(format: "%.1f", value) + " " + unit }
        value /= 1024
    }
    return String(format: "%.1f", value) + " TiB"
}

/// One progress line on stderr, redrawn in place at most ten times a second, and only when
/// stderr is a terminal: piped or redirected, stderr keeps just the errors and the summary.
struct ProgressLine {
    let enabled = isatty(STDERR_FILENO) == 1
    private var lastDrawn: ContinuousClock.Instant?
    private var drawn = false

    /// Redraws the line unless it was drawn less than 100 ms ago (or `force`).
    mutating func update(force: Bool = false, _ text: @autoclosure () -> String) {
        guard enabled else { return }
        let now = ContinuousClock.now
        if !force, let lastDrawn, now - lastDrawn < .milliseconds(100) { return }
        lastDrawn = now
        drawn = true
        writeToStandardError("\r\u{1B}[K" + text())
    }

    /// Erases the line, so that what follows starts on a clean line.
    mutating func clear() {
        guard enabled, drawn else { return }
        drawn = false
        writeToStandardError("\r\u{1B}[K")
    }
}
