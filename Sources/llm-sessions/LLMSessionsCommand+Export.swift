import ArgumentParser
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions export`: every session (of a role, used since a time) as JSON Lines.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export sessions as JSON Lines: one export_session document per line.",
            discussion: """
                Sessions stream out most recently used first, one at a time, so memory stays \
                flat however many there are; each line is the server's document exactly as \
                llm.export_session returns it, which `llm-sessions import` restores. A session \
                ended while the export runs is left out; one used meanwhile is exported as it \
                was when its turn came. Progress is drawn on stderr when stderr is a terminal; \
                the summary (sessions, turns, bytes) always goes to stderr, as a JSON object \
                with --json, so that stdout holds nothing but documents.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Option(help: "Only sessions of this agent role.")
        var role: String?

        @Option(help: ArgumentHelp(
            "Only sessions used since then: a timestamp like 2026-11-24T21:30:47+00:00, or a duration back from now (7d, 12h).",
            valueName: "time"))
        var since: String?

        @Option(help: ArgumentHelp("Write to this file instead of stdout (created or truncated).", valueName: "file"))
        var output: String?

        func validate() throws {
            try requireText(role, "--role")
            if let since, Self.parseSince(since) == nil {
                throw ValidationError(
                    "--since is neither a timestamp like 2026-11-24T21:30:47+00:00 nor a duration like 7d: \(since)")
            }
            try requireText(output, "--output")
        }

        /// A timestamp, or now minus a duration.
        static func parseSince(_ text: String, now: Date = Date()) -> Date? {
            if let date = PostgresTimestamp.parse(text) { return date }
            if let duration = IdleDuration(argument: text) { return now.addingTimeInterval(-Double(duration.seconds)) }
            return nil
        }

        func run() async throws {
            let sinceDate = since.flatMap { Self.parseSince($0) }
            let sink: FileHandle
            if let output {
                guard FileManager.default.createFile(atPath: output, contents: nil),
                      let handle = FileHandle(forWritingAtPath: output) else {
                    Failure.printError(["cannot write \(output): \(String(cString: strerror(errno)))"])
                    throw ExitCode(Failure.cannotCreate)
                }
                sink = handle
            } else {
                sink = FileHandle.standardOutput
            }
            defer { if output != nil { try? sink.close() } }

            var summary = ExportSummary(output: output)
            var progress = ProgressLine()
            do {
                try await connection.withStore { store in
                    var cursor: SessionPage.Cursor?
                    pages: repeat {
                        let page = try await store.listSessions(agentRole: role, limit: 1000, after: cursor)
                        for listed in page.sessions {
                            if let sinceDate, listed.lastQueryAt < sinceDate { break pages }
                            // One document in memory at a time; nil: ended since it was listed.
                            guard let document = try await store.exportSession(listed.sessionID) else { continue }
                            let line = Data((document.json + "\n").utf8)
                            try sink.write(contentsOf: line)
                            summary.sessions += 1
                            summary.turns += Self.turnCount(of: document) ?? listed.turnCount
                            summary.bytes += Int64(line.count)
                            progress.update("exporting: \(summary.description)")
                        }
                        cursor = page.next
                    } while cursor != nil
                }
            } catch {
                progress.clear()
                writeToStandardError("llm-sessions: export stopped after \(summary.description)\n")
                throw error
            }
            progress.clear()
            if connection.json {
                writeToStandardError(try Output.jsonLine(summary) + "\n")
            } else {
                writeToStandardError("exported \(summary.description)" + (output.map { " to \($0)" } ?? "") + "\n")
            }
        }

        /// The document's own turn count (the session may have changed since it was listed).
        static func turnCount(of document: SessionExport) -> Int? {
            struct Counters: Decodable {
                struct Session: Decodable { var turn_count: Int }
                var session: Session
            }
            return try? JSONDecoder().decode(Counters.self, from: Data(document.json.utf8)).session.turn_count
        }
    }

    /// `llm-sessions import`: restores the documents of a JSON Lines file, line by line.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import JSON Lines written by export: one session document per line (needs llm_admin).",
            discussion: """
                Reads FILE (or stdin for -) one line at a time and imports each document on \
                its own, so a bad line costs only itself: invalid JSON, a document the server \
                refuses (its message names the field), or an id that exists with \
                --on-conflict error is reported on stderr with its line number, and the \
                import goes on. Blank lines are ignored. Progress is drawn on stderr when \
                stderr is a terminal. The summary counts imported, replaced, skipped and \
                rejected documents. Exit 0 when no line was rejected, 65 when any was, 66 when \
                FILE cannot be opened; a lost connection or a missing privilege stops the \
                import (69, 70) after the summary of what was done.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Argument(help: ArgumentHelp("A JSON Lines file, or - for stdin.", valueName: "file"))
        var file: String

        @Option(name: .customLong("on-conflict"), help: ArgumentHelp(
            "When a session id exists already: error (report the line), skip (keep the existing session) or replace (overwrite it).",
            valueName: "error|skip|replace"))
        var onConflict = "error"

        func validate() throws {
            try requireText(file, "FILE")
            guard ImportConflictPolicy(rawValue: onConflict) != nil else {
                throw ValidationError("--on-conflict must be error, skip or replace, got \(onConflict)")
            }
        }

        func run() async throws {
            let policy = ImportConflictPolicy(rawValue: onConflict) ?? .error
            guard let reader = LineReader(path: file) else {
                Failure.printError(["cannot open \(file): \(String(cString: strerror(errno)))"])
                throw ExitCode(Failure.noInput)
            }
            defer { reader.close() }

            var summary = ImportSummary()
            var progress = ProgressLine()
            var hintedConflict = false
            do {
                try await connection.withStore { store in
                    while let line = reader.nextLine() {
                        summary.lines += 1
                        let document: String
                        switch line {
                        case .text(let text):
                            document = text
                        case .invalidUTF8:
                            progress.clear()
                            Failure.printError(["line \(summary.lines): not UTF-8 text"])
                            summary.rejected += 1
                            continue
                        }
                        if document.allSatisfy(\.isWhitespace) { continue }
                        do {
                            let result = try await store.importSession(document, onConflict: policy)
                            switch result.status {
                            case .imported: summary.imported += 1
                            case .replaced: summary.replaced += 1
                            case .skipped: summary.skipped += 1
                            }
                            summary.turns += result.turns
                        } catch where Self.isRejection(error) {
                            progress.clear()
                            var lines = Self.rejection(error, line: summary.lines)
                            if case SessionStoreError.duplicateSession = error {
                                // The hint once: a file imported twice would repeat it on every line.
                                if hintedConflict { lines.removeLast() }
                                hintedConflict = true
                            }
                            Failure.printError(lines)
                            summary.rejected += 1
                        }
                        progress.update("importing: line \(summary.lines)\(reader.percentRead.map { " (\($0)%)" } ?? ""), \(summary.description)")
                    }
                }
            } catch {
                progress.clear()
                try printSummary(summary, stoppedEarly: true)
                throw error
            }
            progress.clear()
            try printSummary(summary, stoppedEarly: false)
            if summary.rejected > 0 { throw ExitCode(Failure.invalidArgument) }
        }

        private func printSummary(_ summary: ImportSummary, stoppedEarly: Bool) throws {
            if connection.json {
                try Output.printJSON(summary)
            } else {
                print((stoppedEarly ? "stopped at line \(summary.lines): " : "") + summary.description)
            }
        }

        /// Whether an error is about the one document (the import goes on) rather than the
        /// connection or the privileges (which would fail every line alike).
        static func isRejection(_ error: Error) -> Bool {
            guard let error = error as? SessionStoreError else { return false }
            switch error {
            case .invalidArgument, .duplicateSession, .conflict, .notFound:
                return true
            case .server(let server):
                return ["22", "23", "40", "54"].contains(String(server.sqlState.prefix(2)))
            case .connectionLost:
                return false
            }
        }

        /// The stderr lines for a rejected line: its number, then what the server said.
        static func rejection(_ error: Error, line: Int) -> [String] {
            if case SessionStoreError.duplicateSession(let sessionID) = error {
                return [
                    "line \(line): session already exists: \(sessionID)",
                    "hint: pass --on-conflict skip to keep it, or --on-conflict replace to overwrite it",
                ]
            }
            let (_, lines) = Failure.describe(error)
            return ["line \(line): " + (lines.first ?? "\(error)")] + lines.dropFirst()
        }
    }
}

/// What `export` reports on stderr when it is done.
struct ExportSummary: Encodable, CustomStringConvertible {
    var sessions = 0
    var turns = 0
    var bytes: Int64 = 0
    var output: String?

    var description: String {
        "\(plural(sessions, "session")), \(plural(turns, "turn")), \(humanBytes(bytes))"
    }

    enum CodingKeys: String, CodingKey {
        case sessions, turns, bytes, output
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sessions, forKey: .sessions)
        try container.encode(turns, forKey: .turns)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(output, forKey: .output)   // null for stdout, not left out
    }
}

/// What `import` reports when it is done (`import --json`).
struct ImportSummary: Encodable, CustomStringConvertible {
    /// Lines read, blank ones included.
    var lines = 0
    var imported = 0
    var replaced = 0
    var skipped = 0
    var rejected = 0
    /// Turns written by the imported and replaced documents.
    var turns = 0

    var description: String {
        "\(imported) imported, \(replaced) replaced, \(skipped) skipped, \(rejected) rejected (\(plural(turns, "turn")) written)"
    }
}

/// Reads a file (or stdin) one line at a time with getline(3): one line in memory, however long.
final class LineReader {
    enum Line {
        case text(String)
        case invalidUTF8
    }

    private let file: UnsafeMutablePointer<FILE>
    private let size: Int64?
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0

    /// Opens `path` for reading (`-`: stdin); nil with errno set when it cannot be opened.
    init?(path: String) {
        if path == "-" {
            guard let opened = fdopen(dup(STDIN_FILENO), "r") else { return nil }
            file = opened
        } else {
            guard let opened = fopen(path, "r") else { return nil }
            var status = stat()
            if fstat(fileno(opened), &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR {
                fclose(opened)
                errno = EISDIR
                return nil
            }
            file = opened
        }
        var status = stat()
        if fstat(fileno(file), &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_size > 0 {
            size = Int64(status.st_size)
        } else {
            size = nil
        }
    }

    /// The next line without its line break, or nil at the end of the input.
    func nextLine() -> Line? {
        let length = getline(&buffer, &capacity, file)
        guard length >= 0, let buffer else { return nil }
        var count = length
        while count > 0, buffer[count - 1] == 0x0A || buffer[count - 1] == 0x0D { count -= 1 }
        let bytes = UnsafeRawBufferPointer(start: buffer, count: count).bindMemory(to: UInt8.self)
        guard let text = String(validating: bytes, as: UTF8.self) else { return .invalidUTF8 }
        return .text(text)
    }

    /// How far through a regular file reading has come, 0...100; nil for a pipe.
    var percentRead: Int? {
        guard let size else { return nil }
        return Int(min(100, Int64(ftello(file)) * 100 / size))
    }

    func close() {
        free(buffer)
        buffer = nil
        fclose(file)
    }
}
