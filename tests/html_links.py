"""Link checking of the generated HTML pages (gallery and claims page)."""

from pathlib import Path


def assert_links_resolve(folder: Path, *pages: str) -> None:
    """Every href and src of the pages names a file in ``folder`` (or an outside URL), and
    every #fragment an id of the page it points to."""
    from html.parser import HTMLParser

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.refs, self.ids = [], set()

        def handle_starttag(self, tag, attrs):
            for k, v in attrs:
                if k in ("href", "src") and v:
                    self.refs.append(v)
                if k == "id":
                    self.ids.add(v)

    parsed = {}

    def parse(name):
        if name not in parsed:
            p = Links()
            p.feed((folder / name).read_text())
            parsed[name] = p
        return parsed[name]

    bad = []
    for page in pages:
        for ref in parse(page).refs:
            if ref.startswith(("http://", "https://", "mailto:")):
                continue
            target, _, frag = ref.partition("#")
            target = target or page
            if not (folder / target).is_file():
                bad.append(f"{page}: {ref} (no file)")
            elif frag and target.endswith(".html") and frag not in parse(target).ids:
                bad.append(f"{page}: {ref} (no id)")
    assert not bad, bad[:10]
