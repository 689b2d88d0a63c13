package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/maopao/maopao"
)

// drag presses the mouse at (x, y), moves it in steps to (x+dx, y+dy) and
// lets go, as a hand dragging does.
func drag(x, y, dx, dy float64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		ev := func(typ input.DispatchMouseEventType, x, y float64) error {
			_, err := cdp.Call(ctx, t, input.DispatchMouseEvent, input.DispatchMouseEventParams{Type: typ, X: x, Y: y, Button: input.MouseButtonLeft, Buttons: 1, ClickCount: 1})
			return err
		}
		if err := ev(input.DispatchMouseEventTypeMousePressed, x, y); err != nil {
			return err
		}
		for k := 1; k <= 5; k++ {
			if err := ev(input.DispatchMouseEventTypeMouseMoved, x+dx*float64(k)/5, y+dy*float64(k)/5); err != nil {
				return err
			}
		}
		return ev(input.DispatchMouseEventTypeMouseReleased, x+dx, y+dy)
	})
}

// setSelect picks an option of a select the way a person does (change fires).
func setSelect(p *page, sel, value string) {
	p.t.Helper()
	if !evalJS[bool](p, fmt.Sprintf(`(() => { const s = document.querySelector(%q); if (!s || !Array.from(s.options).some(o => o.value === %q)) return false;
		s.value = %q; s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, sel, value, value)) {
		p.t.Fatalf("no option %q in %s", value, sel)
	}
}

// TestBrowserWorldStudio builds a world in the studio as a creator would:
// two places dragged on the map and joined by a path, one resident with a
// start place and a routine step, published; then enters it, walks to the
// resident and talks.
func TestBrowserWorldStudio(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and a browser")
	}
	p := newPage(t)
	srv := startScriptedPlatform(t)

	p.do("open the page", chromedp.Navigate(srv.URL()+"/"))
	p.waitJS("online", `document.getElementById("status").textContent === "online"`, 30*time.Second)
	click(p, "#studio-link")
	p.waitJS("the sign-in form", `!document.getElementById("studio-auth").hidden`, 5*time.Second)
	typeInto(p, "#auth-username", "worldsmith")
	typeInto(p, "#auth-password", "correct horse battery")
	click(p, "#auth-register")
	p.waitJS("signed in", `!document.getElementById("studio-main").hidden && document.getElementById("my-worlds")`, 15*time.Second)

	// A character to live in the world.
	click(p, "#studio-new")
	p.waitJS("the character editor", `!document.getElementById("editor-form").hidden`, 5*time.Second)
	typeInto(p, "#f-name", "Rosa")
	typeInto(p, "#f-description", "Keeper of the lighthouse.")
	click(p, "#studio-save")
	p.waitJS("Rosa saved", `document.querySelector('#my-characters .my-character[data-id]')`, 15*time.Second)
	rosa := evalJS[string](p, `document.querySelector('#my-characters .my-character[data-id]').dataset.id`)

	// The world: two places, a path, Rosa at the lighthouse.
	click(p, "#studio-new-world")
	p.waitJS("the world editor", `!document.getElementById("world-editor").hidden && document.getElementById("editor-form").hidden &&
		document.querySelectorAll("#w-places .w-place-row").length === 1`, 5*time.Second)
	typeInto(p, "#w-name", "Cape Test")
	typeInto(p, "#w-description", "A windy cape with a lighthouse.")
	typeInto(p, `.w-place-row[data-id="place-1"] .w-place-name`, "the Dock")
	click(p, "#w-add-place")
	p.waitJS("the second place", `document.querySelector('.w-place-row[data-id="place-2"]') && document.querySelector('#w-map .w-node[data-id="place-2"]')`, 5*time.Second)
	typeInto(p, `.w-place-row[data-id="place-2"] .w-place-name`, "the Lighthouse")
	typeInto(p, `.w-place-row[data-id="place-2"] .w-place-desc`, "A white tower over the sea.")
	click(p, `.w-place-row[data-id="place-1"] .w-path[data-to="place-2"]`)
	p.waitJS("the path drawn both ways", `document.querySelectorAll("#w-map .map-lines line").length === 1 &&
		document.querySelector('.w-place-row[data-id="place-2"] .w-path[data-to="place-1"]').checked`, 5*time.Second)

	// Drag the lighthouse to the right of the map.
	type rect struct{ X, Y, W, H float64 }
	box := func(sel string) rect {
		return evalJS[rect](p, fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return {X: r.left, Y: r.top, W: r.width, H: r.height}; })()`, sel))
	}
	p.do("scroll the map into view", chromedp.Evaluate[chromedp.Void](`document.getElementById("w-map").scrollIntoView({block: "center", behavior: "instant"})`))
	m, n := box("#w-map"), box(`#w-map .w-node[data-id="place-2"]`)
	toX, toY := m.X+0.85*m.W, m.Y+0.2*m.H
	p.do("drag the lighthouse", drag(n.X+n.W/2, n.Y+n.H/2, toX-(n.X+n.W/2), toY-(n.Y+n.H/2)))
	p.waitJS("the lighthouse moved", `(() => { const n = document.querySelector('#w-map .w-node[data-id="place-2"]'); return parseFloat(n.style.left) > 80 && parseFloat(n.style.top) < 30; })()`, 5*time.Second)

	setSelect(p, "#w-resident-pick", rosa)
	click(p, "#w-add-resident")
	p.waitJS("Rosa listed", fmt.Sprintf(`document.querySelector('.w-resident-row[data-id=%q]')`, rosa), 5*time.Second)
	setSelect(p, fmt.Sprintf(`.w-resident-row[data-id=%q] .w-start`, rosa), "place-2")
	click(p, fmt.Sprintf(`.w-resident-row[data-id=%q] .w-add-step`, rosa))
	p.waitJS("a routine step", `document.querySelector(".w-routine .w-step-activity")`, 5*time.Second)
	typeInto(p, ".w-routine .w-step-activity", "tending the lamp")
	setSelect(p, ".w-routine .w-step-place", "place-2")

	// An event: gulls when a player reaches the lighthouse.
	click(p, "#w-add-event")
	p.waitJS("an event row", `document.querySelector("#w-events .w-event-row .w-event-kind")`, 5*time.Second)
	typeInto(p, "#w-events .w-event-text", "Gulls scream over the lighthouse.")
	setSelect(p, "#w-events .w-event-kind", "arrival")
	p.waitJS("the arrival place picker", `document.querySelector("#w-events .w-event-arrival")`, 5*time.Second)
	setSelect(p, "#w-events .w-event-arrival", "place-2")
	setSelect(p, "#w-events .w-event-who", "player")

	click(p, "#w-publish")
	p.waitJS("published", `!document.getElementById("w-message").hidden && document.getElementById("w-message").textContent.includes("Published")`, 15*time.Second)
	p.screenshot("world-studio")
	p.waitJS("the saved world selected in the list", `document.querySelector("#my-worlds .my-world.selected")`, 10*time.Second)
	worldID := evalJS[string](p, `document.querySelector("#my-worlds .my-world.selected").dataset.id`)

	// What the server stored is what the studio showed.
	resp, err := http.Get(srv.URL() + "/api/v1/worlds/" + worldID)
	if err != nil {
		t.Fatal(err)
	}
	var wd maopao.World
	err = json.NewDecoder(resp.Body).Decode(&wd)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the world: %d %v", resp.StatusCode, err)
	}
	if wd.Name != "Cape Test" || wd.Visibility != maopao.VisibilityPublic || len(wd.Locations) != 2 || len(wd.Residents) != 1 {
		t.Fatalf("stored world: %+v", wd)
	}
	dock, light := wd.Locations[0], wd.Locations[1]
	if dock.Name != "the Dock" || light.Name != "the Lighthouse" || len(dock.Connections) != 1 || dock.Connections[0] != "place-2" ||
		len(light.Connections) != 1 || light.Connections[0] != "place-1" {
		t.Fatalf("stored places: %+v", wd.Locations)
	}
	if light.Map == nil || light.Map.X < 80 || light.Map.Y > 30 {
		t.Fatalf("the dragged position was not stored: %+v", light.Map)
	}
	if len(wd.Events) != 1 || wd.Events[0].Trigger.Arrival != "place-2" || wd.Events[0].Trigger.Who != "player" || wd.Events[0].Text != "Gulls scream over the lighthouse." {
		t.Fatalf("stored events: %+v", wd.Events)
	}
	r := wd.Residents[0]
	if r.CharacterID != rosa || r.LocationID != "place-2" || len(r.Routine) != 1 || r.Routine[0].Activity != "tending the lamp" || r.Routine[0].LocationID != "place-2" {
		t.Fatalf("stored resident: %+v", r)
	}

	// Enter it, walk to the lighthouse and talk to Rosa.
	click(p, "#w-open")
	p.waitJS("in the world", `!document.getElementById("world-room").hidden && document.querySelector('#world-map .location.current[data-id="place-1"]')`, 30*time.Second)
	p.do("walk to the lighthouse", chromedp.Click(chromedp.CSS(`#world-map .location.reachable[data-id="place-2"]`)))
	p.waitJS("at the lighthouse with Rosa", fmt.Sprintf(`document.querySelector('#world-map .location.current[data-id="place-2"]') &&
		document.querySelector('#world-present .actor.character[data-id=%q]')`, rosa), 30*time.Second)
	p.waitJS("the gulls in the feed", `Array.from(document.querySelectorAll("#world-feed .event.happened")).some(n => n.textContent === "Gulls scream over the lighthouse.")`, 30*time.Second)
	p.do("address Rosa", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#world-present .actor[data-id=%q] .address`, rosa))))
	p.do("say hello", chromedp.SendKeys(chromedp.ID("world-input"), "Hello Rosa, is the lamp lit?"), pressEnter)
	p.waitJS("Rosa answers", fmt.Sprintf(`document.querySelector('#world-feed .event.line.character.said[data-actor-id=%q]')`, rosa), 2*time.Minute)
	p.screenshot("world-studio-joined")

	// A picture shown in the room: the line carries it; the scripted model
	// cannot see, which the room is told.
	img := image.NewRGBA(image.Rect(0, 0, 30, 20))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	picFile := filepath.Join(t.TempDir(), "lamp.png")
	if err := os.WriteFile(picFile, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p.do("attach a picture in the room", chromedp.SetUploadFiles(chromedp.ID("world-attach-file"), []string{picFile}))
	p.waitJS("uploaded", `document.querySelector("#world-attachments .attachment[data-id]") && !document.getElementById("world-send").disabled`, 30*time.Second)
	p.do("show it", chromedp.SendKeys(chromedp.ID("world-input"), "Look, Rosa!"), pressEnter)
	p.waitJS("the line with its picture", `Array.from(document.querySelectorAll("#world-feed .event.line.mine.said")).some(n => n.querySelector(".pictures img")?.naturalWidth === 30)`, 30*time.Second)
	p.waitJS("the room told the model cannot see", `Array.from(document.querySelectorAll("#world-feed .event.error")).some(n => n.textContent.includes("cannot see pictures"))`, time.Minute)

	// What Rosa remembers about the player here: listed, pinned, forgotten.
	p.do("open a private chat with Rosa", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#world-present .actor[data-id=%q] .private-open`, rosa))))
	p.do("say a secret", chromedp.SendKeys(chromedp.ID("private-input"), "My boat is called Gull."), pressEnter)
	p.waitJS("Rosa's private answer", fmt.Sprintf(`document.querySelector('#private-logs .private-log[data-character=%q] .event.line.character.said')`, rosa), 2*time.Minute)
	click(p, "#world-memories-toggle")
	mem := `Array.from(document.querySelectorAll("#world-memories-list .memory")).find(n => n.textContent.includes("Gull"))`
	p.waitJS("the memory listed", mem, 30*time.Second)
	p.do("pin it", chromedp.Evaluate[chromedp.Void](mem+`.querySelector(".memory-pin").click()`))
	p.waitJS("pinned", mem+`?.classList.contains("pinned")`, 10*time.Second)
	p.do("forget it", chromedp.Evaluate[chromedp.Void](mem+`.querySelector(".memory-forget").click()`))
	p.waitJS("forgotten", `!(`+mem+`) && document.querySelectorAll("#world-memories-list .memory").length > 0`, 10*time.Second)
	checkNoJSErrors(t, p)
}
