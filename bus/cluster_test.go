package bus

import (
	"context"
	"testing"
	"time"
)

// With three servers the platform keeps three copies of every stream, and
// a line is still accepted with one server down.
func TestClusterReplicatesStreamsAndSurvivesALostServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	servers, err := StartEmbeddedCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, s := range servers {
			s.Shutdown()
		}
	}()
	n, err := Connect(servers[0].URL(), "cluster-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for n.ClusterSize() < 3 {
		if ctx.Err() != nil {
			t.Fatalf("the client learned of %d servers, want 3", n.ClusterSize())
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.SetReplicas(AutoReplicas(n.ClusterSize()))
	if err := DeclareStreams(ctx, n); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{InputStream.Name, WorldLog.Name} {
		st, err := n.js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.Replicas != 3 {
			t.Fatalf("stream %s has %d replicas, want 3", name, info.Config.Replicas)
		}
	}
	kv, err := n.OpenKV(ctx, "cluster_test_leases", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "w1", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Append(ctx, "maopao.in.chat.c1", "line-1", []byte("one")); err != nil {
		t.Fatal(err)
	}

	// One server goes; the other two still make a quorum.
	servers[2].Shutdown()
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := n.Append(actx, "maopao.in.chat.c1", "line-2", []byte("two"))
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no line accepted with two of three servers up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got, err := n.Len(ctx, InputStream.Name); err != nil || got != 2 {
		t.Fatalf("the stream holds %d lines (%v), want 2", got, err)
	}
	// The bucket may need a moment to elect a new leader, as the stream did.
	for {
		v, _, err := kv.Get(ctx, "w1")
		if err == nil && string(v) == "a" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("lease bucket after losing a server: %q %v", v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
