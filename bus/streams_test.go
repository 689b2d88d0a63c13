package bus

import (
	"context"
	"fmt"
	"testing"
	"time"
)

var testLog = StreamConfig{Name: "T_LOG", Subjects: []string{"t.log.>"}, Duplicates: time.Minute}
var testQueue = StreamConfig{Name: "T_QUEUE", Subjects: []string{"t.queue.>"}, WorkQueue: true, Duplicates: time.Minute}

func declare(t *testing.T, b Bus, cfgs ...StreamConfig) {
	t.Helper()
	for _, c := range cfgs {
		if err := b.DeclareStream(testContext(t), c); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendDeduplicatesAndReadFollows(t *testing.T) {
	forEachBus(t, func(t *testing.T, connect func(string) Bus) {
		ctx := testContext(t)
		b := connect("one")
		declare(t, b, testLog)
		if _, err := b.Append(ctx, "t.nowhere", "", nil); err == nil {
			t.Fatal("append to a subject no stream takes succeeded")
		}
		s1, err := b.Append(ctx, "t.log.a", "id-1", []byte("one"))
		if err != nil {
			t.Fatal(err)
		}
		again, err := b.Append(ctx, "t.log.a", "id-1", []byte("one, resent"))
		if err != nil || again != s1 {
			t.Fatalf("resent id: seq %d (%v), want the first entry's %d", again, err, s1)
		}
		if _, err := b.Append(ctx, "t.log.b", "", []byte("other subject")); err != nil {
			t.Fatal(err)
		}
		s2, _ := b.Append(ctx, "t.log.a", "", []byte("two"))
		s3, _ := b.Append(ctx, "t.log.a", "", []byte("three"))
		if !(s1 < s2 && s2 < s3) {
			t.Fatalf("sequences %d %d %d do not grow", s1, s2, s3)
		}

		// Reading from s2 skips s1 and the other subject, then follows.
		entries, err := connect("reader").Read(ctx, testLog.Name, "t.log.a", s2)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []struct {
			seq  uint64
			data string
		}{{s2, "two"}, {s3, "three"}} {
			if e := receive(t, entries, "entry"); e.Seq != want.seq || string(e.Data) != want.data || e.Subject != "t.log.a" {
				t.Fatalf("entry %+v, want seq %d %q", e, want.seq, want.data)
			}
		}
		s4, _ := b.Append(ctx, "t.log.a", "", []byte("four"))
		if e := receive(t, entries, "appended entry"); e.Seq != s4 {
			t.Fatalf("followed entry %d, want %d", e.Seq, s4)
		}

		// Purge below s3: a new reader from the start sees s3 and s4 only.
		if n, err := b.Len(ctx, testLog.Name); err != nil || n != 5 {
			t.Fatalf("stream holds %d entries (%v), want 5", n, err)
		}
		if err := b.Purge(ctx, testLog.Name, "t.log.a", s3); err != nil {
			t.Fatal(err)
		}
		if n, err := b.Len(ctx, testLog.Name); err != nil || n != 3 {
			t.Fatalf("stream holds %d entries after purge (%v), want 3", n, err)
		}
		fresh, err := b.Read(ctx, testLog.Name, "t.log.a", 1)
		if err != nil {
			t.Fatal(err)
		}
		if e := receive(t, fresh, "entry after purge"); e.Seq != s3 {
			t.Fatalf("first entry after purge %d, want %d", e.Seq, s3)
		}
		// The other subject kept its entry.
		other, _ := b.Read(ctx, testLog.Name, "t.log.b", 1)
		if e := receive(t, other, "other subject's entry"); string(e.Data) != "other subject" {
			t.Fatalf("other subject: %q", e.Data)
		}
	})
}

func TestWorkQueueAckNakRedeliver(t *testing.T) {
	forEachBus(t, func(t *testing.T, connect func(string) Bus) {
		ctx := testContext(t)
		b := connect("producer")
		declare(t, b, testQueue)
		for i := range 3 {
			if _, err := b.Append(ctx, fmt.Sprintf("t.queue.%d", i), "", []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		cfg := ConsumerConfig{Durable: "workers", Filter: "t.queue.*", AckWait: 2 * time.Second}
		got := make(chan Delivery, 100)
		wctx, stop := context.WithCancel(ctx)
		stopped, err := connect("worker").Consume(wctx, testQueue.Name, cfg, func(d Delivery) { got <- d })
		if err != nil {
			t.Fatal(err)
		}
		first := map[string]Delivery{}
		var lastSeq uint64
		for range 3 {
			d := receive(t, got, "delivery")
			first[string(d.Data())] = d
			if d.Redelivered() || d.Seq() <= lastSeq {
				t.Fatalf("first delivery of %q: redelivered %v, seq %d after %d", d.Data(), d.Redelivered(), d.Seq(), lastSeq)
			}
			lastSeq = d.Seq()
		}
		// 0 is done, 1 is handed back at once, 2 is left to time out.
		if err := first["0"].Ack(ctx); err != nil {
			t.Fatal(err)
		}
		if err := first["1"].Nak(0); err != nil {
			t.Fatal(err)
		}
		if d := receive(t, got, "nak'd delivery"); string(d.Data()) != "1" || !d.Redelivered() || d.Seq() != first["1"].Seq() {
			t.Fatalf("redelivered %q (redelivered %v, seq %d), want 1 again", d.Data(), d.Redelivered(), d.Seq())
		} else if err := d.Term(); err != nil {
			t.Fatal(err)
		}
		if d := receive(t, got, "delivery after ack wait"); string(d.Data()) != "2" {
			t.Fatalf("redelivered %q, want 2", d.Data())
		} else {
			// Long work: InProgress keeps it from coming again.
			for range 3 {
				time.Sleep(time.Second)
				if err := d.InProgress(); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case again := <-got:
				t.Fatalf("%q came again while in progress", again.Data())
			default:
			}
			if err := d.Nak(time.Second); err != nil {
				t.Fatal(err)
			}
		}
		stop()
		receive(t, stopped, "the end of consuming")

		// Another process under the same durable name gets what is left:
		// only 2, after its delay; 0 was acked and 1 terminated.
		later := make(chan Delivery, 10)
		if _, err := connect("worker-2").Consume(ctx, testQueue.Name, cfg, func(d Delivery) { later <- d }); err != nil {
			t.Fatal(err)
		}
		d := receive(t, later, "delivery to the second worker")
		if string(d.Data()) != "2" {
			t.Fatalf("second worker got %q, want 2", d.Data())
		}
		if err := d.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := b.Len(ctx, testQueue.Name); err != nil || n != 0 {
			t.Fatalf("work queue holds %d entries after every ack (%v), want 0", n, err)
		}
		_, _ = b.Append(ctx, "t.queue.9", "", []byte("9"))
		if d := receive(t, later, "new entry"); string(d.Data()) != "9" {
			t.Fatalf("got %q, want 9", d.Data())
		}
	})
}
