package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/engine/speech/speechtest"
)

func speechRequest(t *testing.T, method, url, token, body string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), data
}

// Characters speak through a speech server: in the voice their card names,
// a sentence as it streams and a whole message (from the cache: the
// server is not asked twice), only to the chat's player; without a
// server the page is told to use the browser's voices.
func TestSpeech(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := &visionLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	tts := speechtest.Start(t)
	srv := startServe(t, t.TempDir(), func(c *app.Config) {
		c.LLMURL, c.ModelPath, c.TTSURL, c.MemoryWorkAfter = hs.URL, "", tts.URL, -1
	})
	defer srv.Close()
	base := srv.URL()

	token, _, err := chatclient.NewSession(ctx, base, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, srv, token)
	chars, err := c.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := srv.Store().GetCharacter(ctx, chars[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	ch.Extensions = map[string]any{"maopao": map[string]any{"voice": map[string]any{"name": "nova", "lang": "en-GB"}}}
	if err := srv.Store().PutCharacter(ctx, ch); err != nil {
		t.Fatal(err)
	}
	op, err := c.OpenChat(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if op.Character.Voice == nil || op.Character.Voice.Name != "nova" || op.Character.Voice.Lang != "en-GB" {
		t.Fatalf("the character's voice in chat_opened: %+v", op.Character.Voice)
	}
	done, err := c.Say(ctx, op.ConversationID, "Show me the sea.", nil)
	if err != nil {
		t.Fatal(err)
	}

	if code, _, body := speechRequest(t, "GET", base+"/api/v1/speech", "", ""); code != 200 || !strings.Contains(string(body), `"server":true`) {
		t.Fatalf("speech info: %d %s", code, body)
	}
	code, ct, wav := speechRequest(t, "POST", base+"/api/v1/speech", token, `{"conversation_id":"`+op.ConversationID+`","text":"What a view!"}`)
	if code != 200 || ct != "audio/wav" || !bytes.HasPrefix(wav, []byte("RIFF")) {
		t.Fatalf("speak a sentence: %d %s %.60q", code, ct, wav)
	}
	if asks := tts.Asks(); len(asks) != 1 || asks[0].Voice != "nova" || asks[0].Input != "What a view!" || asks[0].Format != "wav" {
		t.Fatalf("the speech server was asked %+v", asks)
	}
	code, ct, whole := speechRequest(t, "GET", base+"/api/v1/messages/"+done.Message.ID+"/speech", token, "")
	if code != 200 || ct != "audio/wav" || len(whole) != len(wav) {
		t.Fatalf("the message spoken: %d %s, %d bytes (the sentence was %d)", code, ct, len(whole), len(wav))
	}
	if n := len(tts.Asks()); n != 1 {
		t.Errorf("the message's sentence was synthesized again (%d asks): not cached", n)
	}

	// Only the chat's player.
	bo, _, _ := chatclient.NewSession(ctx, base, "Bo")
	if code, _, _ := speechRequest(t, "GET", base+"/api/v1/messages/"+done.Message.ID+"/speech", bo, ""); code != 404 {
		t.Errorf("another player's message: %d, want 404", code)
	}
	if code, _, _ := speechRequest(t, "POST", base+"/api/v1/speech", bo, `{"conversation_id":"`+op.ConversationID+`","text":"hi"}`); code != 404 {
		t.Errorf("speech in another player's chat: %d, want 404", code)
	}
	if code, _, _ := speechRequest(t, "POST", base+"/api/v1/speech", "", `{"conversation_id":"x","text":"hi"}`); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _, _ := speechRequest(t, "POST", base+"/api/v1/speech", token, `{"conversation_id":"`+op.ConversationID+`","text":""}`); code != 422 {
		t.Errorf("nothing to say: %d, want 422", code)
	}

	// Without a speech server: the page falls back to the browser.
	plain := startServe(t, t.TempDir(), func(c *app.Config) { c.LLMURL, c.ModelPath = hs.URL, "" })
	defer plain.Close()
	if code, _, body := speechRequest(t, "GET", plain.URL()+"/api/v1/speech", "", ""); code != 200 || !strings.Contains(string(body), `"server":false`) {
		t.Fatalf("speech info without a server: %d %s", code, body)
	}
	tok2, _, _ := chatclient.NewSession(ctx, plain.URL(), "Cy")
	if code, _, body := speechRequest(t, "POST", plain.URL()+"/api/v1/speech", tok2, `{"conversation_id":"x","text":"hi"}`); code != 501 || !strings.Contains(string(body), "browser's voices") {
		t.Errorf("speak without a server: %d %s", code, body)
	}
}
