package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage/ferrettest"
)

// The scale-out shape: a gateway and a world simulation as separate roles,
// sharing one NATS and one MongoDB (FerretDB here, or a real MongoDB when
// MAOPAO_TEST_MONGO_URI is set).
func TestGatewayAndWorldsimRolesOverNATSAndMongo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nats, err := bus.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer nats.Shutdown()
	mongoURI := ferrettest.Start(t)
	model, err := tinyModel()
	if err != nil {
		t.Fatal(err)
	}

	if _, err := app.StartRole(ctx, app.RoleGateway, app.Config{DataDir: t.TempDir(), Log: quietLog()}); err == nil {
		t.Fatal("a gateway role without external NATS and MongoDB should refuse to start")
	}

	ws, err := app.StartRole(ctx, app.RoleWorldsim, app.Config{DataDir: t.TempDir(), NATSURL: nats.URL(), MongoURI: mongoURI, ModelPath: model, Threads: 1, Log: quietLog()})
	if err != nil {
		t.Fatalf("worldsim role: %v", err)
	}
	defer ws.Close()
	gw, err := app.StartRole(ctx, app.RoleGateway, app.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), NATSURL: nats.URL(), MongoURI: mongoURI, Log: quietLog()})
	if err != nil {
		t.Fatalf("gateway role: %v", err)
	}
	defer gw.Close()

	resp, err := http.Get(gw.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}
	token, _, err := chatclient.NewSession(ctx, gw.URL(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, gw, token)
	chars, err := c.ListCharacters(ctx)
	if err != nil || len(chars) < 3 {
		t.Fatalf("characters: %v, %d", err, len(chars))
	}
	opened, err := c.OpenChat(ctx, chars[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	deltas := 0
	done, err := c.Say(ctx, opened.ConversationID, "My name is Ada.", func(protocol.Delta) { deltas++ })
	if err != nil {
		t.Fatal(err)
	}
	if deltas == 0 || done.Message.Content == "" {
		t.Fatalf("reply through the roles: %d deltas, %+v", deltas, done)
	}
	msgs, err := ws.Store().RecentMessages(ctx, opened.ConversationID, 0)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("MongoDB holds %d messages (%v), want 3 (greeting, line, reply)", len(msgs), err)
	}
}
