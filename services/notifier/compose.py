"""E-mails as MIME messages: HTML with a plain-text alternative and inline pictures.

Example:
    >>> from sightline.config.notifier import EmailConfig
    >>> templates = Templates.from_config(EmailConfig())
    >>> templates.text.get_template("immediate.txt.j2").name
    'immediate.txt.j2'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Self

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from notifier.snapshots import SnapshotImage
from notifier.views import DigestView, EventView
from sightline.config.notifier import EmailConfig

DEFAULT_SUBJECT = "[{{ e.camera }}] {{ e.headline }} ({{ e.rule }})"
DIGEST_SUBJECT = "Sightline digest {{ d.name }}: {{ d.total }} event{{ 's' if d.total != 1 }}"


@dataclass(frozen=True)
class Templates:
    """The jinja2 templates, the configured overrides taking precedence."""

    html: Environment
    text: Environment
    subject: Template
    html_override: Template | None
    text_override: Template | None

    @classmethod
    def from_config(cls, config: EmailConfig) -> Self:
        """Templates from the package, overridden by ``config``'s files and subject."""
        loader = PackageLoader("notifier", "templates")
        html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)
        text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined)
        return cls(
            html=html,
            text=text,
            subject=text.from_string(config.subject_template or DEFAULT_SUBJECT),
            html_override=_load(html, config.html_template),
            text_override=_load(text, config.text_template),
        )

    def render_immediate(self, view: EventView) -> tuple[str, str, str]:
        """``(subject, text, html)`` of an immediate e-mail."""
        html = self.html_override or self.html.get_template("immediate.html.j2")
        text = self.text_override or self.text.get_template("immediate.txt.j2")
        return _one_line(self.subject.render(e=view)), text.render(e=view), html.render(e=view)

    def render_digest(self, view: DigestView) -> tuple[str, str, str]:
        """``(subject, text, html)`` of a digest."""
        subject = self.text.from_string(DIGEST_SUBJECT).render(d=view)
        text = self.text.get_template("digest.txt.j2").render(d=view)
        html = self.html.get_template("digest.html.j2").render(d=view)
        return _one_line(subject), text, html


def _load(env: Environment, path: Path | None) -> Template | None:
    return env.from_string(path.read_text(encoding="utf-8")) if path is not None else None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def image_cid(event_id: str) -> str:
    """The Content-ID an event's picture gets (without angle brackets)."""
    return f"{event_id}@sightline"


def build_message(
    sender: str,
    to: list[str],
    rendered: tuple[str, str, str],
    images: dict[str, SnapshotImage],
    message_id: str,
    headers: dict[str, Any] | None = None,
) -> EmailMessage:
    """A multipart/alternative message; ``images`` by Content-ID go inline with the HTML.

    ``message_id`` names what the mail is about (an event, a digest period), so a mail sent
    again after a crash carries the same Message-ID and mail programs show it once.
    """
    subject, text, html = rendered
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9._-]', '_', message_id)}@sightline>"
    for name, value in (headers or {}).items():
        message[name] = str(value)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    for cid, image in images.items():
        if image.data is None:
            continue
        html_part.add_related(
            image.data,
            maintype="image",
            subtype=image.subtype,
            cid=f"<{cid}>",
            filename=image.filename,
            disposition="inline",
        )
    return message
