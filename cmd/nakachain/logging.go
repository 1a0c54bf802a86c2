package main

import (
	"io"
	"log/slog"
)

// logFlags choose the log's level and format.
type logFlags struct {
	level  slog.Level
	format string
}

func (l *logFlags) register(fl *flagSet) {
	fl.TextVar(&l.level, "log-level", slog.LevelInfo, "log messages of this `LEVEL` and above: debug, info, warn or error")
	fl.StringVar(&l.format, "log-format", "text", "the log's `FORMAT`: text (key=value pairs) or json (one object a line)")
}

func (l *logFlags) check(fl *flagSet) error {
	if l.format != "text" && l.format != "json" {
		return fl.usageErrorf("-log-format %q: use text or json", l.format)
	}
	return nil
}

// logger returns a logger writing to w in the chosen format and level.
func (l *logFlags) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.level}
	if l.format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
