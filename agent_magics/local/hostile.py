"""A corpus of hostile strings (XSS and exfiltration tricks) that ``hostile-agent`` puts everywhere.

Everything an agent says is untrusted: answer text, tool arguments and outputs, custom_outputs and
trace inputs/outputs. Views must render all of these without running script, loading remote
resources or breaking out of their container. Every script payload calls ``alert('xss-...')`` so a
browser test can fail on any dialog; every remote resource points at ``EXFIL_ORIGIN``, a loopback
port nothing listens on, so a test can also watch for requests to it.
"""

from __future__ import annotations

EXFIL_ORIGIN = "http://127.0.0.1:9"

PAYLOADS: list[str] = [
    "<script>alert('xss-script')</script>",
    "<img src=x onerror=\"alert('xss-img-onerror')\">",
    "<svg onload=\"alert('xss-svg-onload')\"></svg>",
    "<svg><script>alert('xss-svg-script')</script></svg>",
    "<iframe src=\"javascript:alert('xss-iframe')\"></iframe>",
    "<iframe srcdoc=\"<script>alert('xss-srcdoc')</script>\"></iframe>",
    "<a href=\"javascript:alert('xss-a-href')\">a harmless link</a>",
    "<a href=\"data:text/html,<script>alert('xss-data-href')</script>\">data link</a>",
    "[markdown link](javascript:alert('xss-md-link'))",
    "[mixed case](JaVaScRiPt:alert('xss-md-case'))",
    "[entity](java&#x09;script:alert('xss-md-entity'))",
    "[data markdown](data:text/html;base64,PHNjcmlwdD5hbGVydCgneHNzLWRhdGEtbWQnKTwvc2NyaXB0Pg==)",
    "[reference link][evil]\n\n[evil]: javascript:alert('xss-md-reference')",
    "<javascript:alert('xss-autolink')>",
    f"![remote image]({EXFIL_ORIGIN}/exfil-markdown.png)",
    f'<img src="{EXFIL_ORIGIN}/exfil-html.png">',
    f'<div style="background:url({EXFIL_ORIGIN}/exfil-style.png)">styled</div>',
    "<div style=\"background:url(javascript:alert('xss-style-url'))\">style url</div>",
    "<style>body { display: none !important; }</style>",
    '<div style="position:fixed;top:0;left:0;width:100vw;height:100vh;z-index:99999;background:#c00">overlay</div>',
    "<details open ontoggle=\"alert('xss-details')\"><summary>details</summary></details>",
    "<input autofocus onfocus=\"alert('xss-autofocus')\">",
    "<body onload=\"alert('xss-body')\">",
    "<form action=\"javascript:alert('xss-form')\"><button>submit</button></form>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(\'xss-meta\')">',
    "<object data=\"javascript:alert('xss-object')\"></object>",
    "<embed src=\"javascript:alert('xss-embed')\">",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"alert('xss-mxss')\">",
    '<!--<img src="--><img src=x onerror="alert(\'xss-comment\')"//">',
    "\"><script>alert('xss-attribute-break')</script>",
    "</textarea><script>alert('xss-textarea')</script>",
    "</script><script>alert('xss-script-break')</script>",
    f'<a href="{EXFIL_ORIGIN}/phish" target="_blank">innocent looking link</a>',
    "{{constructor.constructor('alert(\"xss-template\")')()}}",
    "`<img src=x onerror=\"alert('xss-in-code')\">`",
]
