package web_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserPictures attaches a picture to a line as a player does, sees
// it in the chat, hears that this model cannot see pictures, and finds the
// picture in the history after a reload.
func TestBrowserPictures(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and a browser")
	}
	p := newPage(t)
	srv := startStudioPlatform(t) // the bundled engine: it cannot see
	const wait = 30 * time.Second

	img := image.NewRGBA(image.Rect(0, 0, 90, 60))
	for y := 0; y < 60; y++ {
		for x := 0; x < 90; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 2), 120, uint8(y * 4), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "harbour.png")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	p.do("open the page", chromedp.Navigate(srv.URL()+"/"))
	p.waitJS("the characters", `document.querySelectorAll("#characters .character[data-id]").length >= 3`, wait)
	if evalJS[bool](p, `!document.getElementById("persona-first").hidden`) {
		typeInto(p, "#persona-first-name", "Ada")
		click(p, "#persona-first-save")
	}
	click(p, `#characters .character[data-id]`)
	p.waitJS("the chat", `!document.getElementById("chat-view").hidden && document.getElementById("attach")`, wait)

	p.do("attach the picture", chromedp.SetUploadFiles(chromedp.ID("attach-file"), []string{file}))
	p.waitJS("uploaded", `document.querySelector("#attachments .attachment[data-id]") && !document.getElementById("send").disabled`, wait)
	id := evalJS[string](p, `document.querySelector("#attachments .attachment[data-id]").dataset.id`)
	p.do("say with it", chromedp.SendKeys(chromedp.ID("input"), "Look at the harbour!"), pressEnter)
	mine := `Array.from(document.querySelectorAll("#messages .message.user[data-id]")).pop()`
	p.waitJS("the line with its picture", mine+`?.querySelector('.pictures img[data-id="`+id+`"]')?.naturalWidth === 90`, wait)
	if !evalJS[bool](p, `document.getElementById("attachments").hidden`) {
		t.Error("the composer still holds the sent picture")
	}
	p.waitJS("the notice that the model cannot see", `Array.from(document.querySelectorAll("#messages .message.notice")).some(n => n.dataset.code === "no_vision" && n.textContent.includes("cannot see pictures"))`, wait)
	p.waitJS("the reply", `document.querySelector("#messages .message.character.complete:not(.greeting)")`, 2*time.Minute)
	p.screenshot("chat-picture")

	p.do("reload", chromedp.Reload())
	p.waitJS("the picture in the history", `Array.from(document.querySelectorAll('#messages .message.user .pictures img[data-id="`+id+`"]')).some(n => n.complete && n.naturalWidth === 90)`, wait)

	// A file that is not a picture is refused in the page, before any upload.
	bad := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(bad, []byte("not a picture"), 0o644)
	p.do("attach a text file", chromedp.SetUploadFiles(chromedp.ID("attach-file"), []string{bad}))
	p.waitJS("refused", `Array.from(document.querySelectorAll("#messages .message.error")).some(n => n.textContent.includes("not a PNG, JPEG or WebP"))`, wait)
	checkNoJSErrors(t, p)
}
