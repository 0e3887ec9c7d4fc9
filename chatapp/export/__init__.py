"""Qt-free exporters and importers, one module per format (PDF is drawn by Qt in
ui/pdf_export.py)."""

FORMATS = ("md", "json", "html", "pdf", "txt")
