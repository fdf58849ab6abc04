from django import template
from django.utils.safestring import SafeString

from apps.course.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    return render_markdown(text or "")


@register.filter(name="markdown_inline")
def markdown_inline_filter(text: str) -> SafeString:
    """One line of Markdown with math (a choice), without the paragraph around it."""
    html = str(render_markdown(text or "")).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return SafeString(html)


@register.filter(name="get_item")
def get_item(mapping: dict[object, object], key: object) -> object:
    return mapping.get(key) if isinstance(mapping, dict) else None
