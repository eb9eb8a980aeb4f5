import Foundation
import Testing

/// `export` and `import` as a user runs them: JSON Lines through a file or a pipe.
@Suite("llm-sessions export and import, against the real server")
struct CLIExportImportTests {
    /// A role no other test uses.
    private static func uniqueRole(_ prefix: String) -> String {
        "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// A fresh temporary file path, removed by the caller.
    private static func temporaryFile(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("llm-cli-\(UUID().uuidString)-\(name)")
    }

    /// `show ID --json` as a parsed object.
    private static func shown(_ id: String) throws -> NSDictionary {
        let result = try CLI.run(["show", id, "--json"])
        #expect(result.status == 0, "\(result)")
        return try result.object() as NSDictionary
    }

    /// The lines of a JSON Lines text, without the final empty one.
    private static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }

    /// A session with turns, exported alone and then ended: its document, ready to import.
    private static func exportedDocument(role: String, id: String, turns: Int) throws -> String {
        #expect(try CLI.run(["create", "--role", role, "--id", id, "--context", "You are \(id)."]).status == 0)
        for n in 0..<turns {
            #expect(try CLI.run(["append", id, "--question", "q\(n)", "--response", "r\(n)", "--tokens", "\(n + 1)"]).status == 0)
        }
        let exported = try CLI.run(["export", "--role", role])
        #expect(exported.status == 0, "\(exported)")
        let document = try #require(lines(exported.stdout).first { $0.contains("\"\(id)\"") }, "\(exported)")
        #expect(try CLI.run(["end", id]).status == 0)
        return document
    }

    @Test("export to a file, end the sessions, import the file: show prints exactly what it printed before")
    func roundTripThroughFile() throws {
        let role = Self.uniqueRole("cli_export")
        let ids = ["\(role)-a", "\(role)-b"]
        defer { for id in ids { _ = try? CLI.run(["end", id]) } }
        #expect(try CLI.run(["create", "--role", role, "--id", ids[0], "--context", "You are the CEO.\nBe brief.",
                             "--metadata", #"{"team": "cli", "n": 7}"#]).status == 0)
        #expect(try CLI.run(["create", "--role", role, "--id", ids[1]]).status == 0)
        #expect(try CLI.run(["append", ids[0], "--question", "Wie geht's? ✓", "--response", "Line 1\nLine \"2\"",
                             "--tokens", "795", "--request-id", "r-1", "--metadata", #"{"step": 1}"#]).status == 0)
        #expect(try CLI.run(["append", ids[0], "--question", "Next?", "--response", "Ship.", "--tokens", "215"]).status == 0)
        #expect(try CLI.run(["append", ids[1], "--question", "q", "--response", "r", "--tokens", "3"]).status == 0)
        #expect(try CLI.run(["pin", ids[1]]).status == 0)
        let before = try ids.map(Self.shown)

        let file = Self.temporaryFile("export.jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        let exported = try CLI.run(["export", "--role", role, "--output", file.path])
        #expect(exported.status == 0, "\(exported)")
        #expect(exported.stdout.isEmpty, "documents go to the file: \(exported)")
        #expect(exported.stderr.contains("exported 2 sessions, 3 turns"), "\(exported)")
        #expect(exported.stderr.contains("to \(file.path)"), "\(exported)")
        #expect(!exported.stderr.contains("\r"), "no progress line when stderr is not a terminal")

        let text = try String(contentsOf: file, encoding: .utf8)
        let documents = Self.lines(text)
        #expect(documents.count == 2, "\(text)")
        #expect(text.hasSuffix("\n"))
        for document in documents {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any])
            #expect(object["format"] as? String == "llm-sessions/session")
            #expect(object["version"] as? Int == 1)
        }
        // Most recently used first: b was used last (its pin does not count as use, its append does).
        #expect(documents[0].contains("\"\(ids[1])\""), "\(text)")

        // The same documents on stdout, and the summary as JSON on stderr.
        let piped = try CLI.run(["export", "--role", role, "--json"])
        #expect(piped.status == 0, "\(piped)")
        #expect(Self.lines(piped.stdout).count == 2)
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(piped.stderr.utf8)) as? [String: Any], "\(piped)")
        #expect(summary["sessions"] as? Int == 2)
        #expect(summary["turns"] as? Int == 3)
        #expect(summary["bytes"] as? Int == piped.stdout.utf8.count)

        for id in ids { #expect(try CLI.run(["end", id]).status == 0) }
        let imported = try CLI.run(["import", file.path])
        #expect(imported.status == 0, "\(imported)")
        #expect(imported.stdout.contains("2 imported, 0 replaced, 0 skipped, 0 rejected (3 turns written)"), "\(imported)")
        #expect(imported.stderr.isEmpty, "\(imported)")
        let after = try ids.map(Self.shown)
        #expect(after == before, "the sessions come back exactly: \(after) vs \(before)")
    }

    @Test("export --since leaves out sessions not used since then")
    func exportSince() throws {
        let role = Self.uniqueRole("cli_since")
        let id = "\(role)-1"
        #expect(try CLI.run(["create", "--role", role, "--id", id]).status == 0)
        defer { _ = try? CLI.run(["end", id]) }
        let recent = try CLI.run(["export", "--role", role, "--since", "1h"])
        #expect(recent.status == 0, "\(recent)")
        #expect(Self.lines(recent.stdout).count == 1, "\(recent)")
        let future = try CLI.run(["export", "--role", role, "--since", "2100-01-01T00:00:00+00:00"])
        #expect(future.status == 0, "\(future)")
        #expect(future.stdout.isEmpty, "\(future)")
        #expect(future.stderr.contains("exported 0 sessions, 0 turns, 0 B"), "\(future)")
    }

    @Test("import goes on past bad lines, names each with its line number and exits 65")
    func importWithBadLines() throws {
        let role = Self.uniqueRole("cli_badlines")
        let ids = ["\(role)-1", "\(role)-3", "\(role)-4"]
        defer { for id in ids { _ = try? CLI.run(["end", id]) } }
        let good1 = try Self.exportedDocument(role: role, id: ids[0], turns: 2)
        let wrong = try Self.exportedDocument(role: role, id: ids[1], turns: 2)
        let good4 = try Self.exportedDocument(role: role, id: ids[2], turns: 1)
        // Line 3: counters that disagree with the turns.
        var object = try #require(try JSONSerialization.jsonObject(with: Data(wrong.utf8)) as? [String: Any])
        var session = try #require(object["session"] as? [String: Any])
        session["turn_count"] = 5
        object["session"] = session
        let tampered = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)

        let file = Self.temporaryFile("bad.jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try [good1, "{not json", tampered, good4, "", "  "].joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)

        let result = try CLI.run(["import", file.path])
        #expect(result.status == 65, "\(result)")
        #expect(result.stderr.contains("line 2: "), "\(result)")
        #expect(result.stderr.contains("line 3: "), "\(result)")
        #expect(result.stderr.contains("turn_count is 5 but there are 2 turns"), "the server's message: \(result)")
        #expect(!result.stderr.contains("line 1:") && !result.stderr.contains("line 4:"), "\(result)")
        #expect(result.stdout.contains("2 imported, 0 replaced, 0 skipped, 2 rejected"), "\(result)")
        #expect(try CLI.run(["show", ids[0]]).status == 0)
        #expect(try CLI.run(["show", ids[1]]).status == 3, "a refused document writes nothing")
        #expect(try CLI.run(["show", ids[2]]).status == 0)
    }

    @Test("import --on-conflict: error reports the line, skip keeps the session, replace overwrites it; - reads stdin")
    func importConflicts() throws {
        let role = Self.uniqueRole("cli_conflict")
        let id = "\(role)-1"
        defer { _ = try? CLI.run(["end", id]) }
        let document = try Self.exportedDocument(role: role, id: id, turns: 2)
        let first = try CLI.run(["import", "-"], input: document + "\n")
        #expect(first.status == 0, "\(first)")

        let error = try CLI.run(["import", "-", "--json"], input: document + "\n")
        #expect(error.status == 65, "\(error)")
        #expect(error.stderr.contains("line 1: session already exists: \(id)"), "\(error)")
        #expect(error.stderr.contains("--on-conflict"), "the hint names the flag: \(error)")
        let errorSummary = try error.object()
        #expect(errorSummary["rejected"] as? Int == 1)
        #expect(errorSummary["imported"] as? Int == 0)

        #expect(try CLI.run(["append", id, "--question", "later", "--response", "r"]).status == 0)
        let skip = try CLI.run(["import", "-", "--on-conflict", "skip", "--json"], input: document)
        #expect(skip.status == 0, "\(skip)")
        #expect(try skip.object()["skipped"] as? Int == 1)
        #expect(try Self.shown(id)["turn_count"] as? Int == 3, "skip keeps the existing session")

        let replace = try CLI.run(["import", "-", "--on-conflict", "replace", "--json"], input: document)
        #expect(replace.status == 0, "\(replace)")
        let summary = try replace.object()
        #expect(summary["replaced"] as? Int == 1)
        #expect(summary["turns"] as? Int == 2)
        #expect(summary["lines"] as? Int == 1)
        #expect(try Self.shown(id)["turn_count"] as? Int == 2, "replace restores the document")
    }

    @Test("import of a file that does not exist exits 66")
    func importMissingFile() throws {
        let result = try CLI.run(["import", "/nonexistent/sessions.jsonl"])
        #expect(result.status == 66, "\(result)")
        #expect(result.stderr.contains("cannot open /nonexistent/sessions.jsonl"), "\(result)")
    }
}
