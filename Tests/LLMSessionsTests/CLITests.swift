import Foundation
import Testing

/// The session JSON `llm-sessions show --json` prints, as a script would read it.
private struct ShownSession: Decodable {
    struct TurnJSON: Decodable {
        var seq: Int
        var question: String
        var response: String
        var tokens: Int
        var request_id: String?
        var timestamp: String
    }

    var session_id: String
    var agent_role: String
    var startup_context: String?
    var turn_count: Int
    var total_tokens: Int
    var metadata: [String: String]
    var created_at: String
    var last_query_at: String
    var conversation_history: [TurnJSON]
}

@Suite("llm-sessions command line, against the real server")
struct CLITests {
    @Test("create, append and show run as separate processes and share one session")
    func createAppendShowAcrossProcesses() throws {
        let id = CLI.uniqueID()
        let created = try CLI.run(["create", "--role", "ceo", "--context", "You are the CEO.", "--id", id,
                                   "--metadata", #"{"team": "cli"}"#, "--json"])
        #expect(created.status == 0, "\(created)")
        let session = try created.json(ShownSession.self)
        #expect(session.session_id == id)
        #expect(session.turn_count == 0)
        #expect(session.conversation_history.isEmpty)
        defer { _ = try? CLI.run(["end", id]) }

        let first = try CLI.run(["append", id, "--question", "What is my role as CEO?",
                                 "--response", "You set the direction.", "--tokens", "795"])
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout.contains("turn count    1"), "\(first)")
        #expect(first.stdout.contains("total tokens  795"), "\(first)")

        let second = try CLI.run(["append", id, "--question", "And next?", "--response", "Budget.\nThen hiring.",
                                  "--tokens", "215", "--expect-turn-count", "1", "--request-id", "r-2", "--json"])
        #expect(second.status == 0, "\(second)")
        let appended = try second.object()
        #expect(appended["turn_count"] as? Int == 2)
        #expect(appended["total_tokens"] as? Int == 1010)
        #expect(appended["replayed"] as? Bool == false)

        let shown = try CLI.run(["show", id, "--json"])
        #expect(shown.status == 0, "\(shown)")
        let full = try shown.json(ShownSession.self)
        #expect(full.agent_role == "ceo")
        #expect(full.startup_context == "You are the CEO.")
        #expect(full.metadata == ["team": "cli"])
        #expect(full.turn_count == 2)
        #expect(full.total_tokens == 1010)
        #expect(full.conversation_history.map(\.seq) == [1, 2])
        #expect(full.conversation_history.map(\.tokens) == [795, 215])
        #expect(full.conversation_history[1].response == "Budget.\nThen hiring.")
        #expect(full.conversation_history[1].request_id == "r-2")
        #expect(full.conversation_history[0].timestamp.hasSuffix("+00:00"))

        let last = try CLI.run(["show", id, "--last", "1", "--json"]).json(ShownSession.self)
        #expect(last.conversation_history.map(\.seq) == [2])
        #expect(last.turn_count == 2)

        let newest = try CLI.run(["show", id, "--last", "1"])
        #expect(newest.stdout.contains("(newest 1 of 2 turns shown)"), "\(newest)")
        #expect(!newest.stdout.contains("What is my role as CEO?"), "only the newest turn is listed")

        let table = try CLI.run(["show", id])
        #expect(table.status == 0)
        #expect(table.stdout.contains("session       \(id)"), "\(table)")
        #expect(table.stdout.contains("SEQ"))
        #expect(table.stdout.contains("What is my role as CEO?"))
        #expect(table.stdout.contains("Budget. Then hiring."), "newlines are flattened in the table")
    }

    @Test("a retried append with the same --request-id stores nothing new")
    func requestIDReplays() throws {
        let id = CLI.uniqueID()
        #expect(try CLI.run(["create", "--role", "cto", "--id", id]).status == 0)
        defer { _ = try? CLI.run(["end", id]) }
        let arguments = ["append", id, "--question", "q", "--response", "r", "--tokens", "5", "--request-id", "once", "--json"]
        let first = try CLI.run(arguments).object()
        let retry = try CLI.run(arguments).object()
        #expect(first["replayed"] as? Bool == false)
        #expect(retry["replayed"] as? Bool == true)
        #expect(retry["turn_count"] as? Int == 1)
        #expect(retry["total_tokens"] as? Int == 5)
    }

    @Test("list shows a role's sessions, newest first, and pages with --before/--before-id")
    func listPages() throws {
        let role = "cli_list_\(UUID().uuidString.prefix(6).lowercased())"
        let ids = (1...3).map { "\(role)-\($0)" }
        for id in ids {
            let result = try CLI.run(["create", "--role", role, "--id", id])
            #expect(result.status == 0, "\(result)")
        }
        defer { for id in ids { _ = try? CLI.run(["end", id]) } }
        // Touch them in order, so the newest use is the last id.
        for id in ids { #expect(try CLI.run(["append", id, "--question", "q", "--response", "r"]).status == 0) }

        let table = try CLI.run(["list", "--role", role])
        #expect(table.status == 0, "\(table)")
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("SESSION") == true, "\(table)")
        #expect(lines.dropFirst().prefix(3).map { String($0.split(separator: " ")[0]) } == ids.reversed())
        #expect(!table.stdout.contains("next page"))

        let page1 = try CLI.run(["list", "--role", role, "--limit", "2", "--json"]).object()
        let sessions1 = try #require(page1["sessions"] as? [[String: Any]])
        #expect(sessions1.compactMap { $0["session_id"] as? String } == [ids[2], ids[1]])
        let next = try #require(page1["next_page"] as? [String: Any], "\(page1)")
        let before = try #require(next["before"] as? String)
        let beforeID = try #require(next["before_id"] as? String)
        #expect(beforeID == ids[1])

        let page2 = try CLI.run(["list", "--role", role, "--limit", "2", "--before", before, "--before-id", beforeID, "--json"]).object()
        let sessions2 = try #require(page2["sessions"] as? [[String: Any]])
        #expect(sessions2.compactMap { $0["session_id"] as? String } == [ids[0]])
        #expect(page2["next_page"] == nil || page2["next_page"] is NSNull)

        let hinted = try CLI.run(["list", "--role", role, "--limit", "2"])
        #expect(hinted.stdout.contains("next page: llm-sessions list --role \(role) --limit 2 --before "), "\(hinted)")
    }

    @Test("end deletes the session; ending or showing it again exits 3")
    func endThenMissing() throws {
        let id = CLI.uniqueID()
        #expect(try CLI.run(["create", "--role", "cfo", "--id", id]).status == 0)
        let ended = try CLI.run(["end", id])
        #expect(ended.status == 0, "\(ended)")
        #expect(ended.stdout.contains("ended session \(id)"))
        let again = try CLI.run(["end", id])
        #expect(again.status == 3, "\(again)")
        #expect(again.stderr.contains("no such session"))
        #expect(try CLI.run(["show", id]).status == 3)
    }

    @Test("an unknown session exits 3 for show and append")
    func unknownSessionExits3() throws {
        let id = CLI.uniqueID("cli-missing")
        let shown = try CLI.run(["show", id])
        #expect(shown.status == 3, "\(shown)")
        #expect(shown.stderr.contains("no such session: \(id)"))
        #expect(shown.stdout.isEmpty)
        let appended = try CLI.run(["append", id, "--question", "q", "--response", "r"])
        #expect(appended.status == 3, "\(appended)")
        #expect(appended.stderr.contains("no such session"))
    }

    @Test("a conflict exits 4: a stale --expect-turn-count, or an id that exists")
    func conflictExits4() throws {
        let id = CLI.uniqueID()
        #expect(try CLI.run(["create", "--role", "ceo", "--id", id]).status == 0)
        defer { _ = try? CLI.run(["end", id]) }
        #expect(try CLI.run(["append", id, "--question", "q", "--response", "r", "--expect-turn-count", "0"]).status == 0)
        let stale = try CLI.run(["append", id, "--question", "q2", "--response", "r2", "--expect-turn-count", "0"])
        #expect(stale.status == 4, "\(stale)")
        #expect(stale.stderr.contains("expected 0, actual 1"), "\(stale)")
        #expect(try CLI.run(["show", id, "--json"]).json(ShownSession.self).turn_count == 1, "nothing was stored")

        let duplicate = try CLI.run(["create", "--role", "ceo", "--id", id])
        #expect(duplicate.status == 4, "\(duplicate)")
        #expect(duplicate.stderr.contains("already exists"))
    }

    @Test("an argument the server rejects exits 65 with the server's reason")
    func invalidArgumentExits65() throws {
        let tooLong = String(repeating: "x", count: 201)   // session ids are at most 200 characters
        let result = try CLI.run(["create", "--role", "ceo", "--id", tooLong])
        #expect(result.status == 65, "\(result)")
        #expect(result.stderr.contains("invalid argument"), "\(result)")
        #expect(result.stderr.contains("200"), "the limit is named: \(result)")
    }

    @Test("usage errors exit 64 before anything reaches the server", arguments: [
        ["append", "x", "--question", "q", "--response", "r", "--tokens", "-1"],
        ["append", "x", "--question", "q"],
        ["create", "--role", "ceo", "--metadata", "[1, 2]"],
        ["create", "--role", "ceo", "--metadata", "{not json"],
        ["create", "--role", "  "],
        ["list", "--limit", "0"],
        ["list", "--limit", "1001"],
        ["list", "--before", "yesterday", "--before-id", "x"],
        ["list", "--before", "2026-11-24T21:30:47+00:00"],
        ["cleanup", "--max-idle", "10x"],
        ["cleanup", "--max-idle", "0s"],
        ["cleanup", "--batch-size", "0"],
        ["cleanup", "--paced", "--batch-size", "100001"],
        ["cleanup", "--busy-share", "0.5"],
        ["cleanup", "--paced", "--busy-share", "0"],
        ["cleanup", "--paced", "--busy-share", "0.005"],
        ["cleanup", "--paced", "--busy-share", "1.5"],
        ["cleanup", "--paced", "--busy-share", "nan"],
        ["schedule", "--cron", " "],
        ["schedule", "--max-idle", "-1h"],
        ["show", "x", "--last", "-2"],
        ["cleanup", "--policy", "foo"],
        ["schedule", "--policy", "foo"],
        ["import", "sessions.jsonl", "--on-conflict", "foo"],
        ["import"],
        ["export", "--since", "yesterday"],
        ["export", "--role", " "],
        ["context", "x", "--max-tokens", "-1"],
        ["context", "x"],
        ["fork", "x", "--at", "-1"],
        ["search", " "],
        ["search", "q", "--limit", "0"],
        ["search", "q", "--limit", "101"],
        ["purge"],
        ["purge", "--older-than", "0s"],
        ["purge", "--older-than", "30d", "--batch-size", "0"],
        ["stats", "--days", "3"],
        ["stats", "--daily", "--days", "0"],
        ["pop", " "],
        ["watch", "--role", ""],
        ["no-such-command"],
    ])
    func usageErrorsExit64(arguments: [String]) throws {
        // A server that does not exist: a usage error must be found before connecting.
        let result = try CLI.runWithoutDatabase(arguments + ["--database-url", "host=/nonexistent port=1"])
        #expect(result.status == 64, "\(result)")
        #expect(!result.stderr.isEmpty)
    }

    @Test("an unreachable server exits 69 with a clear message")
    func unreachableServerExits69() throws {
        let result = try CLI.runWithoutDatabase(["list", "--database-url", "host=/nonexistent port=1"])
        #expect(result.status == 69, "\(result)")
        #expect(result.stderr.contains("cannot reach the database server"), "\(result)")
        let fromEnvironment = try CLI.runWithoutDatabase(["show", "x"], environment: ["PGHOST": "/nonexistent", "PGPORT": "1"])
        #expect(fromEnvironment.status == 69, "\(fromEnvironment)")
    }

    @Test("DATABASE_URL is used when --database-url is absent")
    func databaseURLFromEnvironment() throws {
        let result = try CLI.runWithoutDatabase(["list", "--limit", "1", "--json"], environment: ["DATABASE_URL": CLI.conninfo()])
        #expect(result.status == 0, "\(result)")
        #expect(try result.object()["sessions"] is [Any])
    }

    @Test("migrate is idempotent: a second run reports every migration unchanged")
    func migrateTwice() throws {
        let result = try CLI.run(["migrate", "--json"])
        #expect(result.status == 0, "\(result)")
        let report = try result.object()
        let migrations = try #require(report["migrations"] as? [[String: Any]], "\(report)")
        #expect(!migrations.isEmpty)
        #expect(migrations.allSatisfy { $0["status"] as? String == "unchanged" }, "\(migrations)")
        let table = try CLI.run(["migrate"])
        #expect(table.status == 0, "\(table)")
        #expect(table.stdout.contains("0001_create_schema"))
    }

    @Test("stats counts a role's sessions, turns and tokens")
    func statsPerRole() throws {
        let role = "cli_stats_\(UUID().uuidString.prefix(6).lowercased())"
        let id = "\(role)-1"
        #expect(try CLI.run(["create", "--role", role, "--id", id]).status == 0)
        defer { _ = try? CLI.run(["end", id]) }
        #expect(try CLI.run(["append", id, "--question", "q", "--response", "r", "--tokens", "40"]).status == 0)
        #expect(try CLI.run(["append", id, "--question", "q", "--response", "r", "--tokens", "2"]).status == 0)

        let json = try CLI.run(["stats", "--json"])
        #expect(json.status == 0, "\(json)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let row = try #require(rows.first { $0["agent_role"] as? String == role }, "\(json)")
        #expect(row["sessions"] as? Int == 1)
        #expect(row["turns"] as? Int == 2)
        #expect(row["tokens"] as? Int == 42)

        // ROLE SESSIONS TURNS TOKENS AVG-TURNS IDLE ACTIVE PINNED ARCHIVED
        let table = try CLI.run(["stats"])
        let line = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix(role) }, "\(table)")
        #expect(line.split(separator: " ").map(String.init) == [role, "1", "2", "42", "2.00", "0", "1", "0", "0"])
    }

    @Test("cleanup keeps a session used just now")
    func cleanupKeepsFreshSessions() throws {
        let id = CLI.uniqueID()
        #expect(try CLI.run(["create", "--role", "ceo", "--id", id]).status == 0)
        defer { _ = try? CLI.run(["end", id]) }
        // Ten years, so as not to race the library tests' backdated sessions on the shared database.
        let result = try CLI.run(["cleanup", "--max-idle", "3650d", "--json"])
        #expect(result.status == 0, "\(result)")
        #expect(try result.object()["max_idle_seconds"] as? Int == 3650 * 86_400)
        let table = try CLI.run(["cleanup", "--max-idle", "3650d"])
        #expect(table.stdout.contains("idle longer than 3650d"), "\(table)")
        #expect(try CLI.run(["show", id]).status == 0)
    }

    @Test("demo creates a session, continues it in a second process (1 → 2, 795 → 1010) and ends it")
    func demoAcrossTwoProcesses() throws {
        // Step 4's cleanup runs on the shared test database: a max idle of ten years leaves the
        // library tests' backdated sessions to their own cleanup calls.
        let result = try CLI.run(["demo", "--max-idle", "3650d"])
        #expect(result.status == 0, "\(result)")
        let out = result.stdout
        #expect(out.contains("turn count    1 → 2"), "\(result)")
        #expect(out.contains("total tokens  795 → 1010"), "\(result)")
        #expect(out.contains("verified: 2 turns and 1010 tokens"), "\(result)")

        let pids = out.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("Step "), let range = line.range(of: #"process (\d+)"#, options: .regularExpression)
            else { return nil }
            return String(line[range])
        }
        #expect(pids.count == 4, "\(out)")
        #expect(Set(pids).count == 2, "steps 1, 3, 4 run in one process and step 2 in another: \(pids)")

        let idLine = try #require(out.split(separator: "\n").first { $0.contains("session id") })
        let id = try #require(idLine.split(separator: " ").last.map(String.init))
        #expect(id.hasPrefix("ceo_"))
        #expect(out.contains("ended the demo session \(id)"))
        #expect(out.contains("cleanup (max idle 3650d) removed"), "\(out)")
        #expect(try CLI.run(["show", id]).status == 3, "the demo leaves no session behind")
    }

    @Test("demo --json reports both processes and the verified history")
    func demoJSON() throws {
        let result = try CLI.run(["demo", "--json", "--max-idle", "3650d"])
        #expect(result.status == 0, "\(result)")
        let report = try result.object()
        #expect(report["verified"] as? Bool == true)
        #expect(report["ended"] as? Bool == true)
        #expect(report["first_process"] as? Int != report["second_process"] as? Int)
        let continuation = try #require(report["continuation"] as? [String: Any], "\(report)")
        #expect(continuation["turn_count_before"] as? Int == 1)
        #expect(continuation["turn_count_after"] as? Int == 2)
        #expect(continuation["total_tokens_before"] as? Int == 795)
        #expect(continuation["total_tokens_after"] as? Int == 1010)
        #expect(continuation["pid"] as? Int == report["second_process"] as? Int)
        let session = try #require(report["session"] as? [String: Any])
        let history = try #require(session["conversation_history"] as? [[String: Any]])
        #expect(history.compactMap { $0["tokens"] as? Int } == [795, 215])
    }

    @Test("help lists every subcommand and documents the exit codes")
    func helpDocumentsExitCodes() throws {
        let help = try CLI.runWithoutDatabase(["--help"])
        #expect(help.status == 0)
        for command in ["migrate", "create", "append", "show", "list", "end", "context", "pop", "fork", "search",
                        "pin", "unpin", "export", "import", "watch", "cleanup", "schedule", "unschedule",
                        "restore", "purge", "stats", "demo"] {
            #expect(help.stdout.contains("  \(command)"), "\(command) missing from help")
        }
        for code in [" 3  no such session", " 4  conflict", "64  usage error", "65  the server rejected",
                     "import: at least one line was rejected", "69  the database server is unreachable"] {
            #expect(help.stdout.contains(code), "\(code) missing from help")
        }
    }
}
