"""The dashboard's HTML (Jinja2, autoescaped) and its one stylesheet, kept in code.

Kept as strings so the package needs no data files; no JavaScript is needed to read or filter
the pages (filters are links), which keeps them usable with any browser and a screen reader.
Colours are chosen for WCAG AA contrast (text 4.5:1 or more on its background).
"""

from __future__ import annotations

__all__ = ["CSS", "TEMPLATES"]

CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:#1a1a1a;background:#f4f5f7}
a{color:#0b57d0}a:focus-visible,button:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}
header{background:#14213d;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;
  align-items:center;flex-wrap:wrap}
header h1{font-size:1.15rem;margin:0}
header nav a,header .lang a{color:#fff;margin-right:.9rem;text-decoration:none;
  padding:.2rem .1rem;border-bottom:2px solid transparent}
header nav a[aria-current=page],header .lang a[aria-current=true]{border-bottom-color:#ffd166}
header .status{margin-left:auto;font-size:.85rem;color:#e6e9f0}
main{padding:1rem 1.2rem;max-width:1400px;margin:0 auto}
.tabs{display:flex;gap:.4rem;flex-wrap:wrap;margin:.2rem 0 1rem}
.tabs a{padding:.35rem .8rem;border:1px solid #9aa3b5;border-radius:999px;background:#fff;
  color:#1a1a1a;text-decoration:none}
.tabs a[aria-current=true]{background:#14213d;color:#fff;border-color:#14213d}
.grid{display:grid;gap:1rem}
.kpis{grid-template-columns:repeat(auto-fit,minmax(170px,1fr))}
.two{grid-template-columns:2fr 1fr}.three{grid-template-columns:repeat(3,1fr)}
@media (max-width:900px){.two,.three{grid-template-columns:1fr}}
.card{background:#fff;border:1px solid #d5d9e0;border-radius:8px;padding:.8rem 1rem;
  margin-bottom:1rem;min-width:0}
.card h2{font-size:1rem;margin:0 0 .5rem}
.kpi .value{font-size:1.7rem;font-weight:650}
.kpi .sub{font-size:.85rem;color:#454a52}
.up{color:#1e6b30}.down{color:#a1221b}
.neg{color:#a1221b}.pos{color:#1e6b30}.neu{color:#454a52}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{color:#333;font-weight:600}
.chart{width:100%;height:auto}
ul.bars{list-style:none;margin:0;padding:0}
ul.bars li{display:grid;grid-template-columns:8.5rem 1fr 3.5rem;gap:.5rem;align-items:center;
  margin:.2rem 0;font-size:.9rem}
.bl-bar{background:#e8ebf0;height:.8rem;border-radius:3px;overflow:hidden}
.bl-bar span{display:block;height:100%}
.bl-val{text-align:right}
.incident{border-left:5px solid #b3261e;padding:.4rem .7rem;margin:.4rem 0;background:#fff5f4}
.incident.closed{border-left-color:#6b6f75;background:#f6f7f8}
.badge{display:inline-block;padding:0 .45rem;border-radius:4px;font-size:.8rem;font-weight:600;
  color:#fff;background:#a1221b}
.badge.closed{background:#4d5157}.badge.update{background:#8a4b00}
.member{margin:.3rem 0 .6rem}.member q,.quote{display:block;color:#2b2f36;font-size:.88rem;
  margin:.15rem 0 .15rem .6rem}
.muted{color:#454a52;font-size:.85rem}
.actions a{margin-right:1rem}
"""

_BASE = """<!doctype html>
<html lang="{{ lang }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{ page_title }} · Porte-Voix</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body>
<header>
  <h1>Porte-Voix · {{ t('title') }}</h1>
  <nav aria-label="{{ t('title') }}">
    <a href="/?{{ q(brand=brand) }}" {% if page == 'overview' %}aria-current="page"{% endif %}
      >{{ t('overview') }}</a>
    <a href="/feedback?{{ q(brand=brand) }}" {% if page == 'feedback' %}aria-current="page"
      {% endif %}>{{ t('feedback') }}</a>
  </nav>
  <span class="lang" aria-label="{{ t('language') }}">
    <a href="?{{ q(lang='en') }}" lang="en" {% if lang == 'en' %}aria-current="true"{% endif %}
      >English</a>
    <a href="?{{ q(lang='fr') }}" lang="fr" {% if lang == 'fr' %}aria-current="true"{% endif %}
      >Français</a>
  </span>
  <span class="status" id="status">{{ status.total }} {{ t('records_read') }}
    {% if status.latest %}· {{ t('data_until') }} {{ status.latest[:16].replace('T', ' ') }}
    UTC{% endif %}</span>
</header>
<main>
<nav class="tabs" aria-label="{{ t('brand') }}" id="brand-tabs">
  <a href="?{{ q(brand=None) }}" {% if not brand %}aria-current="true"{% endif %}
    data-brand="">{{ t('all_brands') }}</a>
  {% for b in brands %}<a href="?{{ q(brand=b) }}" data-brand="{{ b }}"
    {% if brand == b %}aria-current="true"{% endif %}>{{ b }}</a>{% endfor %}
</nav>
{% block body %}{% endblock %}
</main>
</body></html>
"""

_OVERVIEW = """{% extends 'base.html' %}{% block body %}
{% macro trend(tr, pct=True) -%}
  {%- if tr.change is none -%}<span class="sub">—</span>
  {%- else -%}<span class="{{ 'up' if tr.change >= 0 else 'down' }}">
  {{ '▲' if tr.change >= 0 else '▼' }} {{ '%+.0f%%' % (tr.change * 100) }}</span>
  <span class="sub">{{ t('vs_previous') }}</span>{%- endif -%}
{%- endmacro %}
<section class="grid kpis" aria-label="KPI" id="kpis">
  <div class="card kpi"><h2>{{ t('volume') }}</h2>
    <div class="value" id="kpi-volume">{{ d.volume.current|int }}</div>
    <div class="sub">{{ trend(d.volume) }}</div></div>
  <div class="card kpi"><h2>{{ t('net_sentiment') }}</h2>
    <div class="value {{ 'neg' if d.sentiment.net.current < 0 else 'pos' }}">
      {{ '%+.2f' % d.sentiment.net.current }}</div>
    <div class="sub">{{ trend(d.sentiment.net) }}</div></div>
  <div class="card kpi"><h2>{{ t('authors') }}</h2>
    <div class="value">{{ d.community.authors.current|int }}</div>
    <div class="sub">{{ d.community.new_authors }} {{ t('new_authors') }} ·
      {{ trend(d.community.authors) }}</div></div>
  <div class="card kpi"><h2>{{ t('response_time') }}</h2>
    <div class="value">{{ minutes(d.response_time.median_minutes) }}</div>
    <div class="sub">{{ t('p90') }} {{ minutes(d.response_time.p90_minutes) }} ·
      {{ d.response_time.answered }}/{{ d.response_time.conversations }}
      {{ t('answered') }}</div></div>
  <div class="card kpi"><h2>{{ t('unresolved') }}</h2>
    <div class="value">{{ d.unresolved|length }}</div>
    <div class="sub">{{ t('unresolved_help') }}</div></div>
  <div class="card kpi"><h2>{{ t('share_of_voice') }}</h2>
    <div class="value">{% if brand %}{{ '%.0f%%' % (100 * d.share_of_voice.get(brand, 0))
      }}{% else %}{{ d.share_of_voice|length }}{% endif %}</div>
    <div class="sub">{{ t('all_brands') if not brand else brand }}</div></div>
</section>
<section class="grid two">
  <div class="card"><h2>{{ t('sentiment_over_time') }}</h2>{{ chart }}</div>
  <div class="card"><h2>{{ t('volume_by_platform') }}</h2>{{ platforms }}
    <h2 style="margin-top:1rem">{{ t('share_of_voice') }}</h2>{{ sov }}</div>
</section>
<section class="grid two">
  <div class="card" id="incidents"><h2>{{ t('incidents') }}</h2>
  {% for a in d.incidents %}
    <div class="incident {{ a.status }}">
      <span class="badge {{ a.status }}">{{ t('status_' + a.status) }}</span>
      <strong>{{ a.brand }} — {{ t('area_' + a.theme) }}</strong>
      <div class="muted">{{ t('started') }} {{ a.started_at[:16].replace('T', ' ') }} UTC ·
        {{ a.message_count }} {{ t('messages_count') }} ·
        {% if a.status != 'closed' %}×{{ a.growth }} {{ t('growth') }} · {% endif %}
        {{ a.platforms|join(', ') }} · {{ a.languages|join(', ') }}</div>
      {% for m in a.first_messages[:2] %}<q class="quote">{{ m }}</q>{% endfor %}
    </div>
  {% else %}<p>{{ t('no_incidents') }}</p>{% endfor %}
  </div>
  <div class="card"><h2>{{ t('top_themes') }}</h2>
    <table><thead><tr><th>{{ t('area') }}</th><th>{{ t('count') }}</th>
      <th>{{ t('previous') }}</th><th>{{ t('negative_share') }}</th></tr></thead><tbody>
    {% for th in d.themes %}<tr><td><a href="/feedback?{{ q(area=th.theme) }}"
      >{{ t('area_' + th.theme) }}</a></td><td>{{ th.count }}</td><td>{{ th.previous }}</td>
      <td>{{ '%.0f%%' % (100 * th.negative_share) }}</td></tr>{% endfor %}
    </tbody></table>
    <h2 style="margin-top:1rem">{{ t('intents') }}</h2>{{ intents }}</div>
</section>
<section class="grid three">
{% for key in ('ambassadors', 'detractors', 'prescribers') %}
  <div class="card" id="{{ key }}"><h2>{{ t(key) }}</h2>
  {% for m in d.members[key] %}<div class="member"><strong>{{ m.label or t('anonymous')
    }}</strong> <span class="muted">{{ m.platform }} · {{ m.messages }}
    {{ t('messages_count') }}{% if m.followers %} · {{ m.followers }} {{ t('followers')
    }}{% endif %} · <span class="{{ 'pos' if m.mean_sentiment > 0 else 'neg' }}"
    >{{ '%+.2f' % m.mean_sentiment }}</span></span>
    {% for r in m.recent[:2] %}<q>{{ r }}</q>{% endfor %}</div>
  {% else %}<p>{{ t('none') }}</p>{% endfor %}</div>
{% endfor %}
</section>
<section class="grid three">
  <div class="card"><h2>{{ t('connectors') }}</h2>
  {% if d.connectors %}<table><tbody>{% for h in d.connectors %}<tr><td>{{ h.connector }}
    {% if h.account %}<span class="muted">{{ h.account }}</span>{% endif %}</td>
    <td class="{{ 'pos' if h.status == 'ok' else 'neg' }}">{{ h.status }}</td>
    <td class="muted">{{ h.detail }}</td></tr>{% endfor %}</tbody></table>
  {% else %}<p>{{ t('no_connectors') }}</p>{% endif %}</div>
  <div class="card" id="dead-letters"><h2>{{ t('dead_letters') }}</h2>
    <div class="kpi"><span class="value">{{ d.dead_letters.total }}</span></div>
    <table><tbody>{% for k, v in d.dead_letters.by_stage.items() %}<tr><td>{{ k }}</td>
      <td>{{ v }}</td></tr>{% endfor %}</tbody></table></div>
  <div class="card"><h2>{{ t('tickets') }}</h2>
    <table><tbody>{% for k, v in d.tickets.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>
    {% else %}<tr><td>{{ t('none') }}</td></tr>{% endfor %}</tbody></table></div>
</section>
{% endblock %}
"""

_FEEDBACK = """{% extends 'base.html' %}{% block body %}
<nav class="tabs" aria-label="{{ t('area') }}" id="area-tabs">
  <a href="?{{ q(area=None) }}" {% if not area %}aria-current="true"{% endif %}
    >{{ t('all_areas') }} ({{ d.areas.values()|sum }})</a>
  {% for a, n in d.areas.items() %}<a href="?{{ q(area=a) }}"
    {% if area == a %}aria-current="true"{% endif %}>{{ t('area_' + a) }} ({{ n }})</a>
  {% endfor %}
</nav>
<p class="actions">
  <a href="/api/export.csv?{{ q() }}">{{ t('export_csv') }}</a>
  <a href="/api/digest.md?{{ q() }}">{{ t('digest_md') }}</a>
  <a href="/api/digest.html?{{ q() }}">{{ t('digest_html') }}</a>
</p>
<section class="grid two">
  <div class="card" id="themes"><h2>{{ t('themes') }} — {{ d.count }}
    <span class="muted">({{ t('previous') }}: {{ d.previous }})</span></h2>
  {% for th in d.themes %}<div class="member"><strong>{{ th.theme }}</strong>
    <span class="muted">× {{ th.count }} · {{ t('previous') }} {{ th.previous }}</span>
    {% for qt in th.quotes %}<div class="quote"><q>{{ qt.text }}</q> <span class="muted">— {{
      qt.brand }}, {{ qt.platform }}{% if qt.url %} · <a href="{{ qt.url }}" rel="noopener"
      >{{ t('original') }}</a>{% endif %}</span></div>{% endfor %}</div>
  {% else %}<p>{{ t('no_feedback') }}</p>{% endfor %}</div>
  <div class="card"><h2>{{ t('intents') }}</h2>{{ intents }}
    <h2 style="margin-top:1rem">{{ t('latest_feedback') }}</h2>
    {% for qt in d.latest[:8] %}<div class="quote"><q>{{ qt.text }}</q> <span class="muted"
      >— {{ qt.brand }}, {{ qt.platform }}, {{ qt.created_at[:10] }}{% if qt.url %} · <a
      href="{{ qt.url }}" rel="noopener">{{ t('original') }}</a>{% endif %}</span></div>
    {% endfor %}</div>
</section>
{% endblock %}
"""

TEMPLATES = {"base.html": _BASE, "overview.html": _OVERVIEW, "feedback.html": _FEEDBACK}
