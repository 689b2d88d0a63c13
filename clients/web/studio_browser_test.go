package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/engine/modelgen"
)

// startStudioPlatform runs the whole platform (its world simulation answers
// draft previews) with a tiny model, so replies come quickly.
func startStudioPlatform(t *testing.T) *app.Server {
	t.Helper()
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.gguf")
	if err := modelgen.Write(model, modelgen.Tiny("qwen3moe")); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DataDir: dir, ModelPath: model, Threads: 1, Log: quiet})
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the platform: %v", err)
		}
	})
	return srv
}

// typeInto replaces a field's value the way typing does (input events fire).
func typeInto(p *page, sel, text string) {
	p.t.Helper()
	evalJS[bool](p, fmt.Sprintf(`(() => { const n = document.querySelector(%q); n.value = ""; n.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`, sel))
	if text != "" {
		p.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
	}
}

func click(p *page, sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// TestBrowserStudio drives the creator studio as a creator would: register,
// write a character with a lorebook, test-chat the draft, save, export,
// meet a conflicting edit, import, delete, reload.
func TestBrowserStudio(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and a browser")
	}
	p := newPage(t)
	srv := startStudioPlatform(t)
	const name = `Ember <i>the</i> Keeper`

	p.do("open the page", chromedp.Navigate(srv.URL()+"/"))
	p.waitJS("the character list", `document.querySelectorAll("#characters .character[data-id]").length >= 3`, 30*time.Second)
	click(p, "#studio-link")
	p.waitJS("the sign-in form", `!document.getElementById("studio-view").hidden && !document.getElementById("studio-auth").hidden`, 5*time.Second)
	p.screenshot("studio-signin")

	// A too-short password is refused next to the field.
	typeInto(p, "#auth-username", "ember_maker")
	typeInto(p, "#auth-password", "short")
	click(p, "#auth-register")
	p.waitJS("password error", `document.querySelector('#auth-form .field-error[data-for="password"]').textContent.includes("at least")`, 10*time.Second)
	typeInto(p, "#auth-password", "correct horse battery")
	click(p, "#auth-register")
	p.waitJS("signed in", `!document.getElementById("studio-main").hidden && document.getElementById("studio-user").textContent.includes("ember_maker")`, 15*time.Second)
	if tok := evalJS[string](p, `JSON.parse(localStorage.getItem("maopao.account")).token`); tok == "" || tok == evalJS[string](p, `localStorage.getItem("maopao.token") || ""`) {
		t.Errorf("account token %q missing or the same as the guest token", tok)
	}

	// A new character with two lorebook entries.
	click(p, "#studio-new")
	p.waitJS("the editor", `!document.getElementById("editor-form").hidden`, 5*time.Second)
	typeInto(p, "#f-name", name)
	typeInto(p, "#f-description", "A keeper of old stories by the lake.")
	typeInto(p, "#f-first_mes", "Welcome, {{user}}. Sit by the fire.")
	typeInto(p, "#f-tags", "fantasy, lore")
	click(p, "#greeting-add")
	typeInto(p, "#greetings .greeting-row:nth-child(1) textarea", "Back again, {{user}}?")
	click(p, "#lore-add")
	entry := func(i int, field string) string {
		return fmt.Sprintf(`#lore-entries .lore-entry[data-index="%d"] .%s`, i, field)
	}
	typeInto(p, entry(0, "lore-name"), "dragon lore")
	typeInto(p, entry(0, "lore-keys"), "dragon, wyrm")
	typeInto(p, entry(0, "lore-content"), "Kaldra the dragon sleeps under the lake.")
	click(p, "#lore-add")
	typeInto(p, entry(1, "lore-name"), "castle")
	typeInto(p, entry(1, "lore-keys"), "castle")
	typeInto(p, entry(1, "lore-content"), "The castle fell in the third winter.")
	typeInto(p, "#book-scan-depth", "4")

	// Test chat with the unsaved draft.
	typeInto(p, "#preview-input", "tell me about the dragon")
	click(p, "#preview-send")
	p.waitJS("the fired entry listed", `document.querySelector('#preview-lore .lore-fired[data-index="0"]')`, 60*time.Second)
	p.waitJS("the completed reply", `document.querySelector("#preview-messages .pmsg.character.complete")`, 60*time.Second)
	fired := evalJS[[]string](p, `Array.from(document.querySelectorAll("#preview-lore .lore-fired")).map(n => n.textContent)`)
	if len(fired) != 1 || !strings.Contains(fired[0], "dragon lore") || !strings.Contains(fired[0], `"dragon"`) {
		t.Errorf("fired entries shown as %q, want only the dragon entry with its reason", fired)
	}
	if !evalJS[bool](p, `document.querySelector('#lore-entries .lore-entry[data-index="0"]').classList.contains("fired") &&
		!document.querySelector('#lore-entries .lore-entry[data-index="1"]').classList.contains("fired")`) {
		t.Error("the editor does not mark the dragon entry (and only it) as fired")
	}
	// A fast local stream can arrive in one piece, so count the deltas
	// the page rendered rather than hoping to see one between frames.
	if n := evalJS[string](p, `document.querySelector("#preview-messages .pmsg.character.complete").dataset.deltas || "0"`); n == "0" {
		t.Error("the test reply was not streamed: no delta events rendered")
	}
	p.screenshot("studio-editor")

	// A voice, kept in the card's extensions.
	typeInto(p, "#f-voice-name", "nova")
	typeInto(p, "#f-voice-lang", "en-GB")

	// Save: revision 1, listed under My characters.
	click(p, "#studio-save")
	p.waitJS("saved", `document.getElementById("studio-message").textContent.includes("Saved revision 1")`, 15*time.Second)
	p.waitJS("listed", `Array.from(document.querySelectorAll("#my-characters .my-character .name")).some(n => n.textContent === `+jsString(name)+`)`, 10*time.Second)
	id := evalJS[string](p, `document.querySelector("#my-characters .my-character.selected").dataset.id`)

	// Export: the download button works, and the card holds the entry.
	click(p, "#export-json")
	p.waitJS("exported", `document.getElementById("studio-message").textContent.includes("Exported")`, 10*time.Second)
	exported := awaitJS[string](p, fmt.Sprintf(`fetch("api/v1/characters/%s/export?format=json", {headers: {Authorization: "Bearer " + JSON.parse(localStorage.getItem("maopao.account")).token}}).then(r => r.text())`, id))
	var cardDoc struct {
		Data struct {
			Name       string `json:"name"`
			Extensions struct {
				Maopao struct {
					Voice struct{ Name, Lang string } `json:"voice"`
				} `json:"maopao"`
			} `json:"extensions"`
			CharacterBook struct {
				Entries []struct {
					Keys    []string `json:"keys"`
					Content string   `json:"content"`
				} `json:"entries"`
			} `json:"character_book"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(exported), &cardDoc); err != nil || cardDoc.Data.Name != name || len(cardDoc.Data.CharacterBook.Entries) != 2 ||
		cardDoc.Data.CharacterBook.Entries[0].Content != "Kaldra the dragon sleeps under the lake." ||
		strings.Join(cardDoc.Data.CharacterBook.Entries[0].Keys, ",") != "dragon,wyrm" ||
		cardDoc.Data.Extensions.Maopao.Voice.Name != "nova" || cardDoc.Data.Extensions.Maopao.Voice.Lang != "en-GB" {
		t.Errorf("exported card (%v): %.600s", err, exported)
	}

	// A validation error shows next to its field.
	typeInto(p, "#f-name", "")
	click(p, "#studio-save")
	p.waitJS("name error", `document.querySelector('#editor-form .field-error[data-for="name"]').textContent.length > 0 && document.getElementById("f-name").classList.contains("invalid")`, 10*time.Second)
	typeInto(p, "#f-name", name)

	// Someone else saves first (another tab): a clear conflict, then reload.
	status := awaitJS[int](p, fmt.Sprintf(`(async () => {
		const h = {Authorization: "Bearer " + JSON.parse(localStorage.getItem("maopao.account")).token, "Content-Type": "application/json"};
		const c = await (await fetch("api/v1/characters/%s", {headers: h})).json();
		c.description = "Edited in another tab.";
		return (await fetch("api/v1/characters/%s", {method: "PUT", headers: h, body: JSON.stringify(c)})).status;
	})()`, id, id))
	if status != 200 {
		t.Fatalf("the other tab's save: HTTP %d", status)
	}
	typeInto(p, "#f-personality", "Patient.")
	click(p, "#studio-save")
	p.waitJS("conflict shown", `!document.getElementById("studio-conflict").hidden && document.getElementById("conflict-text").textContent.includes("changed elsewhere")`, 10*time.Second)
	p.screenshot("studio-conflict")
	click(p, "#conflict-reload")
	p.waitJS("reloaded", `document.getElementById("f-description").value === "Edited in another tab." && document.getElementById("studio-conflict").hidden`, 10*time.Second)

	// Version history lists both revisions.
	click(p, "#history-load")
	p.waitJS("history", `document.querySelectorAll("#history-list .history-item").length === 2`, 10*time.Second)

	// Avatar upload.
	dir := t.TempDir()
	pic := filepath.Join(dir, "avatar.png")
	if err := os.WriteFile(pic, tinyPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	p.do("choose an avatar", chromedp.SetUploadFiles(chromedp.ID("avatar-file"), []string{pic}))
	p.waitJS("avatar shown", `!document.getElementById("avatar-img").hidden && document.getElementById("avatar-img").src.startsWith("data:image/png")`, 10*time.Second)

	// Import the exported card as a second character, then delete it.
	card := filepath.Join(dir, "ember.json")
	if err := os.WriteFile(card, []byte(exported), 0o644); err != nil {
		t.Fatal(err)
	}
	p.do("import a card", chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{card}))
	p.waitJS("imported", `document.getElementById("import-status").textContent.startsWith("Imported") && document.querySelectorAll("#my-characters .my-character").length === 2`, 15*time.Second)
	if got := evalJS[string](p, `document.querySelector('#lore-entries .lore-entry[data-index="0"] .lore-keys').value`); got != "dragon, wyrm" {
		t.Errorf("imported lorebook keys shown as %q", got)
	}
	imported := evalJS[string](p, `document.querySelector("#my-characters .my-character.selected").dataset.id`)

	// Unsaved edits are not dropped by a stray click: the first click warns.
	typeInto(p, "#f-personality", "Unsaved thought.")
	click(p, fmt.Sprintf(`#my-characters .my-character[data-id=%q]`, id))
	p.waitJS("unsaved warning", `document.getElementById("studio-error").textContent.includes("unsaved changes")`, 5*time.Second)
	if sel := evalJS[string](p, `document.querySelector("#my-characters .my-character.selected").dataset.id`); sel != imported {
		t.Errorf("switched away from unsaved edits on the first click")
	}
	click(p, fmt.Sprintf(`#my-characters .my-character[data-id=%q]`, id))
	p.waitJS("switched on the second click", fmt.Sprintf(`document.querySelector("#my-characters .my-character.selected").dataset.id === %q && document.getElementById("f-personality").value === ""`, id), 5*time.Second)
	click(p, fmt.Sprintf(`#my-characters .my-character[data-id=%q]`, imported))
	p.waitJS("back to the import", fmt.Sprintf(`document.querySelector("#my-characters .my-character.selected").dataset.id === %q`, imported), 5*time.Second)

	click(p, "#studio-delete")
	click(p, "#delete-yes")
	p.waitJS("deleted", `document.querySelectorAll("#my-characters .my-character").length === 1 && document.getElementById("editor-form").hidden`, 10*time.Second)

	// Reload: the studio, the account and the character are still there.
	p.do("reload", chromedp.Reload())
	p.waitJS("studio after reload", `!document.getElementById("studio-main").hidden &&
		Array.from(document.querySelectorAll("#my-characters .my-character .name")).some(n => n.textContent === `+jsString(name)+`)`, 20*time.Second)
	click(p, fmt.Sprintf(`#my-characters .my-character[data-id=%q]`, id))
	p.waitJS("opened", `document.getElementById("f-name").value === `+jsString(name)+` && document.querySelectorAll("#lore-entries .lore-entry").length === 2`, 10*time.Second)
	p.waitJS("the greeting in the test chat, macros filled", `Array.from(document.querySelectorAll("#preview-messages .pmsg.greeting .text")).some(n => n.textContent === "Welcome, ember_maker. Sit by the fire.")`, 5*time.Second)
	if n := evalJS[int](p, `document.querySelectorAll("#my-characters i, #editor-title i").length`); n != 0 {
		t.Errorf("the character's name was interpreted as markup (%d elements)", n)
	}
	p.screenshot("studio-reloaded")

	// The chat side still works with the guest token.
	click(p, "#back")
	p.waitJS("list again", `!document.getElementById("list-view").hidden && document.getElementById("studio-view").hidden`, 5*time.Second)
	p.do("mobile size", chromedp.EmulateViewport(390, 844))
	click(p, "#studio-link")
	p.waitJS("studio on mobile", `!document.getElementById("studio-main").hidden`, 5*time.Second)
	p.screenshot("studio-mobile")

	// Deleting the account: a wrong password is refused in place; the
	// right one signs out and the account's characters are gone.
	click(p, "#account-delete summary")
	typeInto(p, "#account-delete-password", "not my password")
	click(p, "#account-delete-submit")
	p.waitJS("wrong password shown", `!document.getElementById("account-delete-error").hidden &&
		document.getElementById("account-delete-error").textContent.includes("wrong password")`, 10*time.Second)
	typeInto(p, "#account-delete-password", "correct horse battery")
	click(p, "#account-delete-submit")
	p.waitJS("signed out after deleting", `!document.getElementById("studio-auth").hidden &&
		document.getElementById("auth-error").textContent.includes("deleted") && localStorage.getItem("maopao.account") === null`, 15*time.Second)
	if _, err := srv.Store().GetCharacter(context.Background(), id); !errors.Is(err, maopao.ErrNotFound) {
		t.Errorf("a deleted account's character: %v, want not found", err)
	}
	checkNoJSErrors(t, p)
}

// awaitJS evaluates an expression whose value is a promise.
func awaitJS[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func tinyPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 64 {
		img.Set(i%8, i/8, color.RGBA{R: uint8(i * 4), G: 120, B: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
