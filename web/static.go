package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

// static holds the page: index.html, app.js and style.css, embedded so
// that the page needs no build step and loads nothing from elsewhere.
//
//go:embed static
var static embed.FS

// contentSecurityPolicy lets the page load only its own files and talk
// only to its own server: no inline script, no outside origin, no frames.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	s.serveFile(w, r, "index.html")
}

// serveStatic serves /static/{file} from the embedded files only: a name
// with a slash, "..", or that is not a file there is 404.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !fs.ValidPath(name) || path.Base(name) != name || name == "index.html" {
		writeError(w, http.StatusNotFound, codeNotFound, "no such file")
		return
	}
	s.serveFile(w, r, name)
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	full := "static/" + name
	st, err := fs.Stat(static, full)
	if err != nil || !st.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, codeNotFound, "no such file")
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, static, full)
}
