package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// visionLLM is an OpenAI-compatible server that records the raw messages
// it gets; blind, it refuses pictures as llama-server without a projector
// does.
type visionLLM struct {
	mu     sync.Mutex
	blind  bool
	bodies [][]json.RawMessage // messages of each request
}

func (l *visionLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	l.bodies = append(l.bodies, req.Messages)
	blind := l.blind
	l.mu.Unlock()
	for _, m := range req.Messages {
		if blind && bytes.Contains(m, []byte(`"image_url"`)) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"code":400,"message":"image input is not supported - hint: if this is unexpected, you may need to provide the mmproj","type":"invalid_request_error"}}`)
			return
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"What a view!\"}}]}\n\n")
	fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
}

func (l *visionLLM) last() []json.RawMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bodies[len(l.bodies)-1]
}

func photo(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	// An EXIF block with a GPS position, right after SOI.
	exif := append([]byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00"), []byte("GPS 31.2304N 121.4737E HOME")...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(exif)+2))
	data := b.Bytes()
	return append(append(append([]byte(nil), data[:2]...), append(seg, exif...)...), data[2:]...)
}

func upload(t *testing.T, base, token, contentType string, data []byte) (int, protocol.PictureInfo, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/pictures", bytes.NewReader(data))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var info protocol.PictureInfo
	if resp.StatusCode == http.StatusCreated {
		_ = json.Unmarshal(body, &info)
	}
	return resp.StatusCode, info, string(body)
}

// Pictures through the platform: uploads are checked (bad ones refused
// with a problem, EXIF stripped), a line shows the player's own pictures
// only, the backend gets them as image_url parts, the history keeps them,
// and a backend that cannot see gets them in words while the player is
// told.
func TestPicturesInChat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := &visionLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	srv := startServe(t, t.TempDir(), func(c *app.Config) {
		c.LLMURL, c.ModelPath = hs.URL, ""
		c.LinesPerSecond, c.LineBurst = 1000, 1000
		c.MemoryWorkAfter = -1
	})
	defer srv.Close()
	g := openGuestChat(t, ctx, srv, "Ada")
	token, c, chars, op := g.token, g.c, g.chars, g.op

	// Bad uploads.
	var good bytes.Buffer
	png.Encode(&good, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	ihdr := []byte{'I', 'H', 'D', 'R', 0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 6, 0, 0, 0} // 100000×100000
	bomb := binary.BigEndian.AppendUint32(append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d"), ihdr...), crc32.ChecksumIEEE(ihdr))
	for _, tc := range []struct {
		name   string
		token  string
		data   []byte
		status int
		says   string
	}{
		{"no token", "", good.Bytes(), http.StatusUnauthorized, ""},
		{"text", token, []byte("not a picture at all"), http.StatusUnprocessableEntity, "send a PNG, JPEG or WebP"},
		{"truncated", token, good.Bytes()[:good.Len()/2], http.StatusUnprocessableEntity, "not a readable image/png"},
		{"pixel bomb", token, bomb, http.StatusRequestEntityTooLarge, "100000×100000"},
		{"too big", token, make([]byte, 11<<20), http.StatusRequestEntityTooLarge, "larger than 10 MiB"},
		{"empty", token, nil, http.StatusBadRequest, "empty"},
	} {
		status, _, body := upload(t, srv.URL(), tc.token, "image/png", tc.data)
		if status != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %s, want %d saying %q", tc.name, status, body, tc.status, tc.says)
		}
	}

	status, pic, body := upload(t, srv.URL(), token, "image/jpeg", photo(t, 120, 80))
	if status != http.StatusCreated || pic.ID == "" || pic.Type != "image/jpeg" || pic.Width != 120 {
		t.Fatalf("upload: %d %s", status, body)
	}
	resp, err := http.Get(srv.URL() + pic.URL)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || bytes.Contains(stored, []byte("GPS")) || bytes.Contains(stored, []byte("Exif")) {
		t.Fatalf("GET %s: %d %s, %d bytes, EXIF kept: %v", pic.URL, resp.StatusCode, resp.Header.Get("Content-Type"), len(stored), bytes.Contains(stored, []byte("GPS")))
	}

	// Another player's picture is not this player's to show.
	bo, _, err := chatclient.NewSession(ctx, srv.URL(), "Bo")
	if err != nil {
		t.Fatal(err)
	}
	_, bosPic, _ := upload(t, srv.URL(), bo, "image/png", good.Bytes())
	if _, err := c.SayLine(ctx, op.ConversationID, chatclient.Line{Text: "look", Pictures: []string{bosPic.ID}}); !chatclient.IsCode(err, protocol.CodeInvalid) {
		t.Fatalf("a line with another player's picture: %v", err)
	}

	// A picture alone is a line; the backend gets it as an image_url part.
	if _, err := c.SayLine(ctx, op.ConversationID, chatclient.Line{Pictures: []string{pic.ID}}); err != nil {
		t.Fatal(err)
	}
	userMsg := string(llm.last()[len(llm.last())-1])
	const prefix = `"url":"data:image/jpeg;base64,`
	k := strings.Index(userMsg, prefix)
	if k < 0 || !strings.Contains(userMsg, `"type":"image_url"`) {
		t.Fatalf("the backend got no image_url part: %.300s", userMsg)
	}
	b64 := userMsg[k+len(prefix):]
	b64 = b64[:strings.IndexByte(b64, '"')]
	if sent, err := base64.StdEncoding.DecodeString(b64); err != nil || !bytes.Equal(sent, stored) {
		t.Fatalf("the picture sent is not the stored one (%v)", err)
	}

	// The history keeps it.
	again, err := c.OpenChat(ctx, chars[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	shown := false
	for _, m := range again.History {
		shown = shown || (m.Role == "user" && len(m.Pictures) == 1 && m.Pictures[0] == pic.ID)
	}
	if !shown {
		t.Fatalf("the history lacks the picture: %+v", again.History)
	}

	// A chat file keeps it: exported as a data URL in the line's extra,
	// imported as the importer's own picture.
	req, _ := http.NewRequest("GET", srv.URL()+"/api/v1/chats/"+op.ConversationID+"/export", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	file, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(file, []byte(`"maopao_images":["data:image/jpeg;base64,`)) || !bytes.Contains(file, []byte(`"image":"data:image/jpeg;base64,`)) {
		t.Fatalf("export: %d, the picture not in the file: %.400s", resp.StatusCode, file)
	}
	req, _ = http.NewRequest("POST", srv.URL()+"/api/v1/chats/import?character="+chars[0].ID, bytes.NewReader(file))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var imported struct {
		ConversationID string `json:"conversation_id"`
	}
	json.NewDecoder(resp.Body).Decode(&imported)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("import: %d", resp.StatusCode)
	}
	copied, err := c.OpenChatByID(ctx, imported.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	var copyPic string
	for _, m := range copied.History {
		if m.Role == "user" && len(m.Pictures) == 1 {
			copyPic = m.Pictures[0]
		}
	}
	if copyPic == "" || copyPic == pic.ID {
		t.Fatalf("the imported chat's picture: %q (the original %q)", copyPic, pic.ID)
	}
	if resp, err := http.Get(srv.URL() + "/api/v1/pictures/" + copyPic); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the imported picture is not served: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// A backend that cannot see: the line is answered, the picture in
	// words, and the player is told.
	llm.mu.Lock()
	llm.blind = true
	llm.mu.Unlock()
	var notices []protocol.Notice
	done, err := c.SayLine(ctx, op.ConversationID, chatclient.Line{Text: "And this one?", Pictures: []string{pic.ID},
		OnNotice: func(n protocol.Notice) { notices = append(notices, n) }})
	if err != nil || done.Message.Content != "What a view!" {
		t.Fatalf("the line to a blind backend: %+v %v", done, err)
	}
	if len(notices) != 1 || notices[0].Code != protocol.CodeNoVision || !strings.Contains(notices[0].Text, "cannot see pictures") {
		t.Fatalf("notices %+v", notices)
	}
	last := string(llm.last()[len(llm.last())-1])
	if strings.Contains(last, "image_url") || !strings.Contains(last, "[shows a picture, which you cannot see]") {
		t.Fatalf("the retried request: %s", last)
	}
	// Learned: the next picture goes in words at once.
	llm.mu.Lock()
	n := len(llm.bodies)
	llm.mu.Unlock()
	if _, err := c.SayLine(ctx, op.ConversationID, chatclient.Line{Text: "Again?", Pictures: []string{pic.ID}}); err != nil {
		t.Fatal(err)
	}
	llm.mu.Lock()
	if len(llm.bodies) != n+1 {
		t.Errorf("the blind backend was sent the picture again (%d requests for one line)", len(llm.bodies)-n)
	}
	llm.mu.Unlock()
}

// A picture shown in a world's room: the players there see it with the
// line, the resident answering is sent it, and the residents remember it
// in the words the engine found (the memory manager lists that memory).
func TestPicturesInWorlds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := &visionLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.LLMURL, c.ModelPath, c.MemoryWorkAfter = hs.URL, "", -1 })
	defer srv.Close()
	w := characters.SampleWorlds()[0]
	xiaoyu := characters.Samples()[0]
	token, _, err := chatclient.NewSession(ctx, srv.URL(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	_, pic, body := upload(t, srv.URL(), token, "image/jpeg", photo(t, 64, 48))
	if pic.ID == "" {
		t.Fatalf("upload: %s", body)
	}
	c := dial(t, ctx, srv, token)
	if _, err := c.JoinWorld(ctx, w.ID, "tea-house"); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(protocol.RoomSay{Envelope: protocol.Envelope{Type: protocol.TypeRoomSay, ID: "r1"}, WorldID: w.ID, Text: "Xiaoyu, look!", To: xiaoyu.ID, Pictures: []string{pic.ID}}); err != nil {
		t.Fatal(err)
	}
	sawPicture, answered := false, false
	for !(sawPicture && answered) {
		ev, err := c.NextWorldEvent(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == protocol.WorldSaid && ev.Actor.Name == "Ada" && len(ev.Pictures) == 1 && ev.Pictures[0] == pic.ID {
			sawPicture = true
		}
		answered = answered || (ev.Kind == protocol.WorldSaid && ev.Actor.ID == xiaoyu.ID)
	}
	seen := false
	llm.mu.Lock()
	for _, msgs := range llm.bodies {
		for _, m := range msgs {
			seen = seen || (bytes.Contains(m, []byte(`"image_url"`)) && bytes.Contains(m, []byte("Ada shows a picture: Xiaoyu, look!")))
		}
	}
	llm.mu.Unlock()
	if !seen {
		t.Fatal("the resident's prompt did not carry the picture")
	}
	api := memoryAPI{t: t, base: srv.URL(), token: token}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var out struct {
			Memories []struct{ Text string } `json:"memories"`
		}
		api.do("GET", "/api/v1/memories?world="+w.ID+"&character="+xiaoyu.ID, nil, &out)
		found := false
		for _, m := range out.Memories {
			found = found || m.Text == "Ada showed a picture: What a view!"
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no memory of the picture in words: %+v", out.Memories)
		}
	}
}
