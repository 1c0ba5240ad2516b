package events_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/latency-fabric/alf/internal/events"
	"github.com/nats-io/nats-server/v2/server"
)

type vectors struct {
	Tokens []struct {
		In  string `json:"in"`
		Out string `json:"out"`
	} `json:"tokens"`
	DraftIDs []struct {
		URI       string `json:"uri"`
		Lifecycle uint32 `json:"lifecycle"`
		Out       string `json:"out"`
	} `json:"draftIDs"`
	Subjects []struct {
		DID     string `json:"did"`
		DraftID string `json:"draftID"`
		Draft   string `json:"draft"`
		Account string `json:"account"`
		Due     string `json:"due"`
		// ScheduleID and Schedule pin ScheduleSubject.
		ScheduleID string `json:"scheduleID"`
		Schedule   string `json:"schedule"`
	} `json:"subjects"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	if len(v.Tokens) == 0 || len(v.DraftIDs) == 0 || len(v.Subjects) == 0 {
		t.Fatal("testdata/vectors.json has an empty section")
	}
	return v
}

// The values are stable: they name subjects already in streams.
func TestNamingVectors(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	for _, tc := range v.Tokens {
		if got := events.Token(tc.In); got != tc.Out {
			t.Errorf("Token(%q) = %q, want %q", tc.In, got, tc.Out)
		}
		if got := events.AccountToken(tc.In); got != tc.Out {
			t.Errorf("AccountToken(%q) = %q, want %q", tc.In, got, tc.Out)
		}
	}
	for _, tc := range v.DraftIDs {
		if got := events.DraftID(tc.URI, tc.Lifecycle); got != tc.Out {
			t.Errorf("DraftID(%q, %d) = %q, want %q", tc.URI, tc.Lifecycle, got, tc.Out)
		}
	}
	for _, tc := range v.Subjects {
		if got := events.DraftSubject(tc.DID, tc.DraftID); got != tc.Draft {
			t.Errorf("DraftSubject = %q, want %q", got, tc.Draft)
		}
		if got := events.AccountSubject(tc.DID); got != tc.Account {
			t.Errorf("AccountSubject = %q, want %q", got, tc.Account)
		}
		if got := events.DueSubject(tc.DID); got != tc.Due {
			t.Errorf("DueSubject = %q, want %q", got, tc.Due)
		}
		if got := events.ScheduleSubject(tc.DID, tc.ScheduleID); got != tc.Schedule {
			t.Errorf("ScheduleSubject = %q, want %q", got, tc.Schedule)
		}
	}
}

var tokenShape = regexp.MustCompile(`^[a-z2-7]{26}$`)

func TestTokenShape(t *testing.T) {
	t.Parallel()
	tests := []string{
		"",
		"did:plc:ewvi7nxzyoun6zhxrhs64oiz",
		"did:web:localhost%3A2583",
		"at://did:web:sub.example.com/app.bsky.feed.post/3l2s5xxv2ze2c",
		"a.b.c:*>",
		strings.Repeat("long ", 10000),
		"\x00\xff",
	}
	for _, id := range tests {
		t.Run(fmt.Sprintf("%.20q", id), func(t *testing.T) {
			t.Parallel()
			got := events.Token(id)
			if !tokenShape.MatchString(got) {
				t.Fatalf("Token(%.20q) = %q, want 26 chars of lowercase base32", id, got)
			}
			if again := events.Token(id); again != got {
				t.Fatalf("Token not stable: %q then %q", got, again)
			}
		})
	}
}

func TestDraftIDDiffersByURIAndLifecycle(t *testing.T) {
	t.Parallel()
	uris := []string{
		"at://did:plc:aaaa/app.bsky.feed.post/1",
		"at://did:plc:aaaa/app.bsky.feed.post/2",
		"at://did:plc:bbbb/app.bsky.feed.post/1",
		"at://did:plc:aaaa/app.bsky.feed.like/1",
	}
	seen := make(map[string]string)
	for _, uri := range uris {
		for lc := uint32(0); lc < 50; lc++ {
			id := events.DraftID(uri, lc)
			if !tokenShape.MatchString(id) {
				t.Fatalf("DraftID(%q, %d) = %q: not a token", uri, lc, id)
			}
			key := fmt.Sprintf("%s#%d", uri, lc)
			if prev, dup := seen[id]; dup {
				t.Fatalf("DraftID collision: %s and %s both give %s", prev, key, id)
			}
			seen[id] = key
		}
	}
	// A lifecycle number is not confused with digits of the URI.
	if events.DraftID("at://x/y/1", 11) == events.DraftID("at://x/y/11", 1) {
		t.Fatal("DraftID(…/1, 11) == DraftID(…/11, 1)")
	}
}

func TestSubjectsAreValidLiteralSubjects(t *testing.T) {
	t.Parallel()
	dids := []string{
		"did:plc:ewvi7nxzyoun6zhxrhs64oiz",
		"did:web:example.com",
		"did:web:localhost%3A2583",
		"did:web:a.b.c.d.e",
	}
	for _, did := range dids {
		t.Run(did, func(t *testing.T) {
			t.Parallel()
			draft := events.DraftID("at://"+did+"/app.bsky.feed.post/3l2s5xxv2ze2c", 1)
			tests := []struct {
				subject string
				tokens  int
			}{
				{events.DraftSubject(did, draft), 5},
				{events.AccountSubject(did), 4},
				{events.DueSubject(did), 3},
			}
			for _, tc := range tests {
				if !server.IsValidLiteralSubject(tc.subject) {
					t.Errorf("%q is not a valid literal subject", tc.subject)
				}
				if strings.Contains(tc.subject, ":") {
					t.Errorf("%q contains ':' from the DID", tc.subject)
				}
				if n := len(strings.Split(tc.subject, ".")); n != tc.tokens {
					t.Errorf("%q has %d tokens, want %d (a '.' of the DID leaked in?)", tc.subject, n, tc.tokens)
				}
			}
		})
	}
}

type filterCase struct {
	name    string
	did     string
	subject string
	want    bool
}

func TestAccountFiltersSelectOneAccount(t *testing.T) {
	t.Parallel()
	alice, bob := "did:plc:alice", "did:web:bob.example.com"
	subjectsOf := func(did string) []string {
		acct := events.AccountToken(did)
		return []string{
			events.DraftSubject(did, events.DraftID("at://"+did+"/app.bsky.feed.post/1", 1)),
			events.DraftSubject(did, events.DraftID("at://"+did+"/app.bsky.feed.post/1", 2)),
			"alf.evt.schedule." + acct + "." + events.Token("sched-1"),
			events.AccountSubject(did),
		}
	}
	var tests []filterCase
	for _, s := range subjectsOf(alice) {
		tests = append(tests,
			filterCase{"alice own " + s, alice, s, true},
			filterCase{"bob filter on alice " + s, bob, s, false})
	}
	for _, s := range subjectsOf(bob) {
		tests = append(tests, filterCase{"alice filter on bob " + s, alice, s, false})
	}
	// The due work queue is another stream: an account filter of the event
	// log does not reach it.
	tests = append(tests, filterCase{"due subject", alice, events.DueSubject(alice), false})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := matchesAny(tc.subject, events.AccountFilters(tc.did)); got != tc.want {
				t.Fatalf("AccountFilters(%s) match %s = %v, want %v", tc.did, tc.subject, got, tc.want)
			}
		})
	}
}

// The filters must not overlap: a consumer with overlapping filters is refused.
func TestAccountFiltersAreDisjointAndValid(t *testing.T) {
	t.Parallel()
	fs := events.AccountFilters("did:plc:alice")
	for i, a := range fs {
		if !server.IsValidSubject(a) {
			t.Errorf("filter %q is not a valid subject", a)
		}
		if !strings.HasPrefix(a, "alf.evt.") {
			t.Errorf("filter %q is outside the event log", a)
		}
		for _, b := range fs[i+1:] {
			if server.SubjectsCollide(a, b) {
				t.Errorf("filters %q and %q overlap", a, b)
			}
		}
	}
}

func matchesAny(subject string, filters []string) bool {
	for _, f := range filters {
		if server.SubjectMatchesFilter(subject, f) {
			return true
		}
	}
	return false
}
