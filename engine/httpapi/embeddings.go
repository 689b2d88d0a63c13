package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/maopao/maopao/engine"
)

// maxEmbedInputs bounds the texts of one /v1/embeddings request.
const maxEmbedInputs = 256

// EmbeddingsRequest is the accepted part of OpenAI's embeddings request:
// input is a string or an array of strings.
type EmbeddingsRequest struct {
	Model string          `json:"model"`
	Input json.RawMessage `json:"input"`
}

// ParseEmbeddingsRequest reads the texts of a request, saying what is
// wrong and where.
func ParseEmbeddingsRequest(body []byte) ([]string, error) {
	var req EmbeddingsRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("request body is not a valid embeddings request: %v", err)
	}
	var one string
	if err := json.Unmarshal(req.Input, &one); err == nil {
		return []string{one}, checkTexts([]string{one})
	}
	var many []string
	if err := json.Unmarshal(req.Input, &many); err != nil {
		return nil, errors.New("input: want a string or an array of strings")
	}
	if len(many) == 0 || len(many) > maxEmbedInputs {
		return nil, fmt.Errorf("input: 1 to %d texts, got %d", maxEmbedInputs, len(many))
	}
	return many, checkTexts(many)
}

func checkTexts(texts []string) error {
	for i, t := range texts {
		if !utf8.ValidString(t) {
			return fmt.Errorf("input[%d]: not valid UTF-8", i)
		}
	}
	return nil
}

type embeddingData struct {
	Object    string    `json:"object"`
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		problem(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed", "use POST")
		return
	}
	emb, ok := engine.EmbedderOf(s.gen)
	if !ok {
		problem(w, http.StatusNotImplemented, "not_implemented", "Not implemented", "this engine makes no embeddings")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		problem(w, http.StatusRequestEntityTooLarge, "too_large", "Request too large", err.Error())
		return
	}
	texts, err := ParseEmbeddingsRequest(body)
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid_request", "Invalid request", err.Error())
		return
	}
	vecs, err := emb.Embed(r.Context(), texts)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, engine.ErrNoEmbeddings) {
			status = http.StatusNotImplemented
		}
		problem(w, status, "engine_error", "Engine error", err.Error())
		return
	}
	out := struct {
		Object string          `json:"object"`
		Data   []embeddingData `json:"data"`
		Model  string          `json:"model"`
	}{Object: "list", Model: s.model}
	for i, v := range vecs {
		out.Data = append(out.Data, embeddingData{Object: "embedding", Index: i, Embedding: v})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
