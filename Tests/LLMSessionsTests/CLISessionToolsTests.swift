import Foundation
import Testing

/// `context`, `pop`, `fork`, `pin`, `unpin`, `search`, `restore`, `purge` and the usage views, as a user runs them.
@Suite("llm-sessions context, undo, forks, pins, search, archive and usage, against the real server")
struct CLISessionToolsTests {
    /// A session with the given turn tokens, ended when the test is done.
    private static func session(_ prefix: String, context: String? = nil, tokens: [Int] = []) throws -> String {
        let id = CLI.uniqueID(prefix)
        var arguments = ["create", "--role", prefix, "--id", id]
        if let context { arguments += ["--context", context] }
        #expect(try CLI.run(arguments).status == 0)
        for (index, count) in tokens.enumerated() {
            let result = try CLI.run(["append", id, "--question", "question \(index + 1)",
                                      "--response", "response \(index + 1)", "--tokens", "\(count)"])
            #expect(result.status == 0, "\(result)")
        }
        return id
    }

    @Test("context returns the newest turns that fit the budget, and says what was left out")
    func contextWithSmallBudget() throws {
        let id = try Self.session("cli_context", context: "You are the CFO.", tokens: [10, 20, 30])
        defer { _ = try? CLI.run(["end", id]) }

        let json = try CLI.run(["context", id, "--max-tokens", "35", "--json"])
        #expect(json.status == 0, "\(json)")
        let window = try json.object()
        #expect(window["session_id"] as? String == id)
        #expect(window["turns_included"] as? Int == 1)
        #expect(window["tokens_included"] as? Int == 30)
        #expect(window["turns_omitted"] as? Int == 2)
        #expect(window["tokens_omitted"] as? Int == 30)
        let messages = try #require(window["messages"] as? [[String: String]], "\(window)")
        #expect(messages == [
            ["role": "system", "content": "You are the CFO."],
            ["role": "user", "content": "question 3"],
            ["role": "assistant", "content": "response 3"],
        ])

        let bare = try CLI.run(["context", id, "--max-tokens", "35", "--no-system-prompt", "--json"]).object()
        #expect((bare["messages"] as? [[String: String]])?.map { $0["role"] } == ["user", "assistant"])

        let table = try CLI.run(["context", id, "--max-tokens", "35"])
        #expect(table.status == 0, "\(table)")
        #expect(table.stdout.contains("left out  2 older turns, 30 tokens"), "\(table)")
        #expect(table.stdout.contains("assistant  response 3"), "\(table)")
        #expect(!table.stdout.contains("question 2"), "\(table)")

        #expect(try CLI.run(["context", CLI.uniqueID("cli-missing"), "--max-tokens", "10"]).status == 3)
    }

    @Test("pop removes the newest turn; a session without turns says so and exits 0; unknown exits 3")
    func popTurns() throws {
        let id = try Self.session("cli_pop", tokens: [5, 7])
        defer { _ = try? CLI.run(["end", id]) }
        let first = try CLI.run(["pop", id])
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout.contains("removed seq   2"), "\(first)")
        #expect(first.stdout.contains("turn count    1"), "\(first)")

        let second = try CLI.run(["pop", id, "--json"])
        #expect(second.status == 0, "\(second)")
        let popped = try second.object()
        #expect(popped["seq"] as? Int == 1)
        #expect(popped["turn_count"] as? Int == 0)
        #expect(popped["total_tokens"] as? Int == 0)

        let empty = try CLI.run(["pop", id])
        #expect(empty.status == 0, "\(empty)")
        #expect(empty.stdout.contains("has no turns: nothing removed"), "\(empty)")
        let emptyJSON = try CLI.run(["pop", id, "--json"])
        #expect(emptyJSON.status == 0)
        #expect(emptyJSON.stdout == "null\n", "\(emptyJSON)")

        let missing = try CLI.run(["pop", CLI.uniqueID("cli-missing")])
        #expect(missing.status == 3, "\(missing)")
        #expect(missing.stderr.contains("no such session"))
    }

    @Test("fork copies the history up to --at under a new id; a taken id exits 4, --at too far 65, unknown parent 3")
    func forkSessions() throws {
        let parent = try Self.session("cli_fork", context: "Fork me.", tokens: [1, 2, 3])
        let child = CLI.uniqueID("cli-fork-child")
        defer { for id in [parent, child] { _ = try? CLI.run(["end", id]) } }

        let forked = try CLI.run(["fork", parent, "--at", "2", "--id", child, "--json"])
        #expect(forked.status == 0, "\(forked)")
        let session = try forked.object()
        #expect(session["session_id"] as? String == child)
        #expect(session["turn_count"] as? Int == 2)
        #expect(session["total_tokens"] as? Int == 3)
        #expect(session["parent_session_id"] as? String == parent)
        #expect(session["parent_seq"] as? Int == 2)
        #expect(session["startup_context"] as? String == "Fork me.")
        #expect((session["conversation_history"] as? [[String: Any]])?.count == 2)
        #expect(try CLI.run(["show", child]).stdout.contains("forked from   \(parent) at seq 2"))

        let taken = try CLI.run(["fork", parent, "--id", child])
        #expect(taken.status == 4, "\(taken)")
        let tooFar = try CLI.run(["fork", parent, "--at", "9"])
        #expect(tooFar.status == 65, "\(tooFar)")
        #expect(tooFar.stderr.contains("beyond"), "\(tooFar)")
        #expect(try CLI.run(["fork", CLI.uniqueID("cli-missing")]).status == 3)

        // Without --id the server generates one; the table shows it.
        let generated = try CLI.run(["fork", parent])
        #expect(generated.status == 0, "\(generated)")
        let line = try #require(generated.stdout.split(separator: "\n").first { $0.hasPrefix("session ") })
        let generatedID = try #require(line.split(separator: " ").last.map(String.init))
        #expect(try CLI.run(["end", generatedID]).status == 0)
    }

    @Test("pin and unpin set the flag that cleanup respects; an unknown session exits 3")
    func pinAndUnpin() throws {
        let id = try Self.session("cli_pin")
        defer { _ = try? CLI.run(["end", id]) }
        let pinned = try CLI.run(["pin", id, "--json"])
        #expect(pinned.status == 0, "\(pinned)")
        #expect(try pinned.object()["pinned"] as? Bool == true)
        #expect(try CLI.run(["show", id]).stdout.contains("pinned"))
        let unpinned = try CLI.run(["unpin", id])
        #expect(unpinned.status == 0, "\(unpinned)")
        #expect(unpinned.stdout.contains("unpinned session \(id)"))
        #expect(try CLI.run(["show", id, "--json"]).object()["pinned"] as? Bool == false)
        #expect(try CLI.run(["pin", CLI.uniqueID("cli-missing")]).status == 3)
        #expect(try CLI.run(["unpin", CLI.uniqueID("cli-missing")]).status == 3)
    }

    @Test("search finds a turn by a word in it and marks the word")
    func searchFindsTurn() throws {
        let letters = Array("bcdfghjklmnpqrstvwxz")
        let word = "zq" + String((0..<10).map { _ in letters.randomElement()! })
        let role = "cli_search_\(UUID().uuidString.prefix(6).lowercased())"
        let id = CLI.uniqueID("cli-search")
        #expect(try CLI.run(["create", "--role", role, "--id", id]).status == 0)
        defer { _ = try? CLI.run(["end", id]) }
        #expect(try CLI.run(["append", id, "--question", "Where is the \(word) report?",
                             "--response", "In the shared folder."]).status == 0)

        let json = try CLI.run(["search", word, "--role", role, "--json"])
        #expect(json.status == 0, "\(json)")
        let hits = try #require(try json.object()["hits"] as? [[String: Any]], "\(json)")
        #expect(hits.count == 1, "\(hits)")
        #expect(hits.first?["session_id"] as? String == id)
        #expect(hits.first?["seq"] as? Int == 1)
        #expect((hits.first?["snippet"] as? String)?.contains("<b>\(word)</b>") == true, "\(hits)")

        let table = try CLI.run(["search", word, "--role", role])
        #expect(table.stdout.hasPrefix("SESSION"), "\(table)")
        #expect(table.stdout.contains("*\(word)*"), "\(table)")
        #expect(try CLI.run(["search", word + "nothing", "--role", role]).stdout == "no matches\n")
    }

    @Test("cleanup --policy archive archives; restore brings the session back; purge deletes it for good")
    func archiveRestorePurge() async throws {
        // cleanup and purge act on the whole database by age: the session is moved into the far
        // past where only test sessions are (ArchiveSupport.swift), and set up again when another
        // suite's cleanup or purge takes it first.
        let id = CLI.uniqueID("cli-archive")
        let maxIdle = "\(TestDatabase.ancientLimit.components.seconds / 86_400)d"
        let purgeAge = "\(TestDatabase.purgeLimit.components.seconds / 86_400)d"
        try await TestDatabase.removingEverywhere([id]) {
            let archived = try await TestDatabase.retryingAgeRaces {
                try await TestDatabase.removeEverywhere([id])
                #expect(try CLI.run(["create", "--role", "cli_archive", "--id", id]).status == 0)
                #expect(try CLI.run(["append", id, "--question", "q", "--response", "r", "--tokens", "4"]).status == 0)
                try await TestDatabase.backdate(id, days: TestDatabase.ancientDays)
                let cleanup = try CLI.run(["cleanup", "--policy", "archive", "--max-idle", maxIdle, "--json"])
                #expect(cleanup.status == 0, "\(cleanup)")
                #expect(try cleanup.object()["policy"] as? String == "archive")
                guard try await TestDatabase.isArchived(id) else { return false }
                #expect(try CLI.run(["show", id]).status == 3, "archived sessions are not live")

                let restored = try CLI.run(["restore", id, "--json"])
                guard restored.status == 0 else { return false }   // purged meanwhile by another suite
                let summary = try restored.object()
                #expect(summary["session_id"] as? String == id)
                #expect(summary["turn_count"] as? Int == 1)
                #expect(summary["total_tokens"] as? Int == 4)
                let live = try CLI.run(["restore", id])
                #expect(live.status == 4 || live.status == 3, "a live session cannot be restored: \(live)")
                return live.status == 4
            }
            #expect(archived, "the session could not be archived and restored")

            let purged = try await TestDatabase.retryingAgeRaces {
                try await TestDatabase.removeEverywhere([id])
                #expect(try CLI.run(["create", "--role", "cli_archive", "--id", id]).status == 0)
                try await TestDatabase.backdate(id, days: TestDatabase.ancientDays)
                let cleanup = try CLI.run(["cleanup", "--policy", "archive", "--max-idle", maxIdle])
                #expect(cleanup.stdout.hasPrefix("archived "), "\(cleanup)")
                guard try await TestDatabase.isArchived(id) else { return false }
                try await TestDatabase.backdateArchiving([id])
                let purge = try CLI.run(["purge", "--older-than", purgeAge, "--json"])
                #expect(purge.status == 0, "\(purge)")
                let count = try purge.object()["purged"] as? Int ?? 0
                let stillArchived = try await TestDatabase.isArchived(id)
                let live = try CLI.run(["show", id]).status != 3
                return count >= 1 && !stillArchived && !live
            }
            #expect(purged, "purge did not remove the archived session")

            let gone = try CLI.run(["restore", id])
            #expect(gone.status == 3, "\(gone)")
            #expect(gone.stderr.contains("only archived sessions can be restored"), "\(gone)")
        }
    }

    @Test("cleanup --paced removes a stale session in committed batches and says so; --policy archive archives")
    func pacedCleanup() async throws {
        // The same far past as archiveRestorePurge (ArchiveSupport.swift), set up again when
        // another suite's cleanup takes the session first.
        let id = CLI.uniqueID("cli-paced")
        let maxIdle = "\(TestDatabase.ancientLimit.components.seconds / 86_400)d"
        try await TestDatabase.removingEverywhere([id]) {
            let deleted = try await TestDatabase.retryingAgeRaces {
                try await TestDatabase.removeEverywhere([id])
                #expect(try CLI.run(["create", "--role", "cli_paced", "--id", id]).status == 0)
                #expect(try CLI.run(["append", id, "--question", "q", "--response", "r"]).status == 0)
                try await TestDatabase.backdate(id, days: TestDatabase.ancientDays)
                let cleanup = try CLI.run(["cleanup", "--paced", "--max-idle", maxIdle, "--batch-size", "1", "--json"])
                #expect(cleanup.status == 0, "\(cleanup)")
                let report = try cleanup.object()
                #expect(report["paced"] as? Bool == true)
                #expect(report["busy_share"] as? Double == 0.5)
                #expect(report["policy"] as? String == "delete", "--paced keeps the policy of cleanup: \(report)")
                let removed = report["removed"] as? Int ?? 0
                // Another suite's archiving cleanup may have moved it first.
                let archived = try await TestDatabase.isArchived(id)
                let gone = try CLI.run(["show", id]).status == 3
                return removed >= 1 && !archived && gone
            }
            #expect(deleted, "the paced cleanup did not delete the stale session")

            let archived = try await TestDatabase.retryingAgeRaces {
                try await TestDatabase.removeEverywhere([id])
                #expect(try CLI.run(["create", "--role", "cli_paced", "--id", id]).status == 0)
                try await TestDatabase.backdate(id, days: TestDatabase.ancientDays)
                let cleanup = try CLI.run(["cleanup", "--paced", "--busy-share", "1", "--policy", "archive", "--max-idle", maxIdle])
                #expect(cleanup.status == 0, "\(cleanup)")
                #expect(cleanup.stdout.hasPrefix("archived "), "\(cleanup)")
                #expect(cleanup.stdout.contains("paced (batches of at most 1000, busy share 1.0)"), "\(cleanup)")
                return try await TestDatabase.isArchived(id)
            }
            #expect(archived, "the paced cleanup did not archive the stale session")
        }
    }

    @Test("stats shows the usage per role; stats --daily per day of creation")
    func usageViews() throws {
        let role = "cli_usage_\(UUID().uuidString.prefix(6).lowercased())"
        let id = "\(role)-1"
        #expect(try CLI.run(["create", "--role", role, "--id", id]).status == 0)
        defer { _ = try? CLI.run(["end", id]) }
        #expect(try CLI.run(["append", id, "--question", "q", "--response", "r", "--tokens", "40"]).status == 0)
        #expect(try CLI.run(["pin", id]).status == 0)

        let json = try CLI.run(["stats", "--json"])
        #expect(json.status == 0, "\(json)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let row = try #require(rows.first { $0["agent_role"] as? String == role }, "\(json)")
        #expect(row["avg_turns_per_session"] as? Double == 1)
        #expect(row["active_sessions"] as? Int == 1)
        #expect(row["pinned_sessions"] as? Int == 1)
        #expect(row["archived_sessions"] as? Int == 0)

        let daily = try CLI.run(["stats", "--daily", "--days", "2", "--json"])
        #expect(daily.status == 0, "\(daily)")
        let days = try #require(try JSONSerialization.jsonObject(with: Data(daily.stdout.utf8)) as? [[String: Any]])
        let today = try #require(days.first { $0["agent_role"] as? String == role }, "\(daily)")
        #expect(today["sessions"] as? Int == 1)
        #expect(today["turns"] as? Int == 1)
        #expect(today["tokens"] as? Int == 40)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        #expect((today["day"] as? String)?.hasPrefix(formatter.string(from: Date())) == true, "\(today)")

        let table = try CLI.run(["stats", "--daily", "--days", "2"])
        let line = try #require(table.stdout.split(separator: "\n").first { $0.contains(role) }, "\(table)")
        #expect(line.split(separator: " ").map(String.init).suffix(4) == [role, "1", "1", "40"])
    }
}
