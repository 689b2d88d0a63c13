package storagetest

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

func newMessage(convID, id, content string) maopao.Message {
	return maopao.Message{ID: id, ConversationID: convID, Role: maopao.RoleUser, Content: content, CreatedAt: oddTime()}
}

func testOpenConversation(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	before := time.Now().Add(-time.Second)
	c1, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	if c1.ID == "" || c1.PlayerID != "p1" || c1.CharacterID != "c1" {
		t.Fatalf("OpenConversation(p1, c1) = %+v", c1)
	}
	if c1.CreatedAt.Before(before) || c1.UpdatedAt.Before(before) {
		t.Errorf("new conversation times %v / %v, want now", c1.CreatedAt, c1.UpdatedAt)
	}
	checkUTC(t, "conversation CreatedAt", c1.CreatedAt)

	again, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	equal(t, "second OpenConversation(p1, c1)", again, c1)
	got, err := s.GetConversation(ctx, c1.ID)
	must(t, err)
	equal(t, "GetConversation", got, c1)

	// Each coordinate of the pair matters, and IDs must not run together.
	seen := map[string]string{c1.ID: "p1/c1"}
	for _, pair := range [][2]string{{"p1", "c2"}, {"p2", "c1"}, {"p1c", "1"}, {"p", "1c1"}} {
		c, err := s.OpenConversation(ctx, pair[0], pair[1])
		must(t, err)
		if prev, dup := seen[c.ID]; dup {
			t.Errorf("OpenConversation(%s, %s) returned %s, already given to %s", pair[0], pair[1], c.ID, prev)
		}
		seen[c.ID] = pair[0] + "/" + pair[1]
	}

	_, err = s.GetConversation(ctx, "no-such-conversation")
	isErr(t, "GetConversation(missing)", err, maopao.ErrNotFound)
	_, err = s.OpenConversation(ctx, "", "c1")
	isErr(t, "OpenConversation(empty player)", err, maopao.ErrInvalid)
	_, err = s.OpenConversation(ctx, "p1", "")
	isErr(t, "OpenConversation(empty character)", err, maopao.ErrInvalid)
}

func testOpenConversationConcurrent(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	const callers = 8
	ids := make([]string, callers)
	parallel(t, callers, func(i int) error {
		c, err := s.OpenConversation(ctx, "racer", "duck")
		ids[i] = c.ID
		return err
	})
	for i, id := range ids {
		if id != ids[0] {
			t.Fatalf("caller %d got conversation %q, caller 0 got %q: racing opens must converge", i, id, ids[0])
		}
	}
}

func testAppendMessage(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	conv, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	contents := []string{"你好，冒泡鸭！", "Quack 🦆👋🏽", "zero\x00byte", "line\nbreak", ""}
	var stored []maopao.Message
	for i, text := range contents {
		in := newMessage(conv.ID, "m"+itoa(i), text)
		in.Seq = 99 // the store assigns Seq; callers' values are ignored
		in.ReplyTo = "m0"
		if i%2 == 1 {
			in.Role = maopao.RoleCharacter
		}
		got, created, err := s.AppendMessage(ctx, in)
		must(t, err)
		if !created {
			t.Errorf("AppendMessage(%s) created=false for a new message", in.ID)
		}
		want := in
		want.Seq, want.CreatedAt = int64(i+1), msUTC(in.CreatedAt)
		equal(t, "appended message "+in.ID, got, want)
		checkUTC(t, "message CreatedAt", got.CreatedAt)
		stored = append(stored, got)
	}
	for _, m := range stored {
		got, err := s.GetMessage(ctx, m.ID)
		must(t, err)
		equal(t, "GetMessage "+m.ID, got, m)
	}
	_, err = s.GetMessage(ctx, "no-such-message")
	isErr(t, "GetMessage(missing)", err, maopao.ErrNotFound)

	// A message without a time gets the store's clock.
	before := time.Now().Add(-time.Second)
	in := newMessage(conv.ID, "untimed", "x")
	in.CreatedAt = time.Time{}
	got, _, err := s.AppendMessage(ctx, in)
	must(t, err)
	if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("message without CreatedAt stored with %v, want now", got.CreatedAt)
	}
	checkUTC(t, "assigned CreatedAt", got.CreatedAt)

	// A second conversation numbers from 1 on its own.
	other, err := s.OpenConversation(ctx, "p2", "c1")
	must(t, err)
	got, _, err = s.AppendMessage(ctx, newMessage(other.ID, "other-1", "hi"))
	must(t, err)
	if got.Seq != 1 {
		t.Errorf("first message of a second conversation got Seq %d, want 1", got.Seq)
	}
}

func testAppendIdempotent(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	conv, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	first, _, err := s.AppendMessage(ctx, newMessage(conv.ID, "m1", "original"))
	must(t, err)
	_, _, err = s.AppendMessage(ctx, newMessage(conv.ID, "m2", "second"))
	must(t, err)

	retry := newMessage(conv.ID, "m1", "changed on retry")
	retry.Role = maopao.RoleSystem
	got, created, err := s.AppendMessage(ctx, retry)
	must(t, err)
	if created {
		t.Errorf("re-append of m1 reported created=true")
	}
	equal(t, "re-appended m1 (the stored copy)", got, first)
	all, err := s.MessagesAfter(ctx, conv.ID, 0, 0)
	must(t, err)
	if len(all) != 2 {
		t.Fatalf("conversation has %d messages after a retried append, want 2", len(all))
	}
	equal(t, "m1 after retry", all[0], first)

	// The stored copy wins even when the retry names another conversation.
	other, err := s.OpenConversation(ctx, "p2", "c2")
	must(t, err)
	got, created, err = s.AppendMessage(ctx, newMessage(other.ID, "m1", "elsewhere"))
	must(t, err)
	if created || got.ConversationID != conv.ID {
		t.Errorf("re-append of m1 to another conversation: created=%v conversation %s, want false and %s",
			created, got.ConversationID, conv.ID)
	}
	rest, err := s.RecentMessages(ctx, other.ID, 0)
	must(t, err)
	if len(rest) != 0 {
		t.Errorf("other conversation got %d messages from a retried append", len(rest))
	}
}

func testAppendInvalid(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	conv, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	bad := map[string]maopao.Message{
		"no ID":           {ConversationID: conv.ID, Role: maopao.RoleUser, Content: "x"},
		"no conversation": {ID: "m1", Role: maopao.RoleUser, Content: "x"},
		"unknown role":    {ID: "m2", ConversationID: conv.ID, Role: "narrator", Content: "x"},
		"bad UTF-8":       {ID: "m3", ConversationID: conv.ID, Role: maopao.RoleUser, Content: "\xff\xfe"},
	}
	for name, m := range bad {
		_, _, err := s.AppendMessage(ctx, m)
		isErr(t, "AppendMessage("+name+")", err, maopao.ErrInvalid)
	}
	_, _, err = s.AppendMessage(ctx, newMessage("no-such-conversation", "m4", "x"))
	isErr(t, "AppendMessage(unknown conversation)", err, maopao.ErrNotFound)
	msgs, err := s.RecentMessages(ctx, conv.ID, 0)
	must(t, err)
	if len(msgs) != 0 {
		t.Errorf("rejected appends left %d messages behind", len(msgs))
	}
}

// testAppendConcurrent has several writers append the same message IDs in
// different orders, to two conversations at once: every ID must be created
// exactly once, every writer must see the same Seq for it, and each
// conversation's Seqs must be exactly 1..n.
func testAppendConcurrent(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	const writers, perConv = 4, 6
	convs := make([]maopao.Conversation, 2)
	for i := range convs {
		c, err := s.OpenConversation(ctx, "p"+itoa(i), "c")
		must(t, err)
		convs[i] = c
	}
	type job struct{ conv, id string }
	var jobs []job
	for ci, c := range convs {
		for j := range perConv {
			jobs = append(jobs, job{c.ID, fmt.Sprintf("c%d-m%d", ci, j)})
		}
	}
	var mu sync.Mutex
	createdBy := map[string]int{}
	seqOf := map[string]int64{}
	parallel(t, writers, func(w int) error {
		order := append([]job(nil), jobs...)
		rand.New(rand.NewPCG(uint64(w), 7)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, jb := range order {
			m, created, err := s.AppendMessage(ctx, newMessage(jb.conv, jb.id, "from writer "+itoa(w)))
			if err != nil {
				return fmt.Errorf("append %s: %w", jb.id, err)
			}
			mu.Lock()
			if created {
				createdBy[jb.id]++
			}
			if prev, ok := seqOf[jb.id]; ok && prev != m.Seq {
				mu.Unlock()
				return fmt.Errorf("%s: writer %d saw Seq %d, another saw %d", jb.id, w, m.Seq, prev)
			}
			seqOf[jb.id] = m.Seq
			mu.Unlock()
		}
		return nil
	})
	for _, jb := range jobs {
		if createdBy[jb.id] != 1 {
			t.Errorf("%s reported created=true %d times, want exactly 1", jb.id, createdBy[jb.id])
		}
	}
	for _, c := range convs {
		msgs, err := s.MessagesAfter(ctx, c.ID, 0, 0)
		must(t, err)
		checkDense(t, c.ID, msgs, perConv)
		for _, m := range msgs {
			if seqOf[m.ID] != m.Seq {
				t.Errorf("%s stored with Seq %d, writers were told %d", m.ID, m.Seq, seqOf[m.ID])
			}
		}
	}
}

func checkDense(t *testing.T, convID string, msgs []maopao.Message, n int) {
	t.Helper()
	seqs := make([]int64, len(msgs))
	for i, m := range msgs {
		seqs[i] = m.Seq
		if m.ConversationID != convID {
			t.Errorf("message %s of %s has conversation %s", m.ID, convID, m.ConversationID)
		}
	}
	if !sort.SliceIsSorted(seqs, func(i, j int) bool { return seqs[i] < seqs[j] }) {
		t.Errorf("%s: Seqs not ascending: %v", convID, seqs)
	}
	want := make([]int64, n)
	for i := range want {
		want[i] = int64(i + 1)
	}
	equal(t, convID+" Seqs", seqs, want)
}

// fill appends n messages and returns them as stored.
func fill(t *testing.T, s storage.Store, n int) (maopao.Conversation, []maopao.Message) {
	t.Helper()
	ctx := testContext(t)
	conv, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	var out []maopao.Message
	for i := range n {
		m, _, err := s.AppendMessage(ctx, newMessage(conv.ID, "m"+itoa(i+1), "message "+itoa(i+1)))
		must(t, err)
		out = append(out, m)
	}
	return conv, out
}

func testRecentMessages(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	conv, all := fill(t, s, 7)
	for _, tc := range []struct {
		limit int
		want  []maopao.Message
	}{
		{0, all}, {-1, all}, {3, all[4:]}, {1, all[6:]}, {7, all}, {100, all},
	} {
		got, err := s.RecentMessages(ctx, conv.ID, tc.limit)
		must(t, err)
		equal(t, fmt.Sprintf("RecentMessages(limit %d)", tc.limit), got, tc.want)
	}
	got, err := s.RecentMessages(ctx, "no-such-conversation", 5)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("RecentMessages of an unknown conversation returned %d messages", len(got))
	}
}

func testMessagesAfter(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	conv, all := fill(t, s, 7)
	for _, tc := range []struct {
		after int64
		limit int
		want  []maopao.Message
	}{
		{0, 0, all}, {-5, 0, all}, {2, 0, all[2:]}, {2, 2, all[2:4]}, {6, 10, all[6:]},
		{7, 0, nil}, {100, 0, nil}, {0, 1, all[:1]}, {3, -1, all[3:]},
	} {
		got, err := s.MessagesAfter(ctx, conv.ID, tc.after, tc.limit)
		must(t, err)
		equal(t, fmt.Sprintf("MessagesAfter(after %d, limit %d)", tc.after, tc.limit), got, tc.want)
	}
	got, err := s.MessagesAfter(ctx, "no-such-conversation", 0, 0)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("MessagesAfter of an unknown conversation returned %d messages", len(got))
	}
}
