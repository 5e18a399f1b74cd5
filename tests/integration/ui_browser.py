#!/usr/bin/env python3
"""The web console in a real browser (headless Chromium through
chromedriver), against a running pxed whose database holds 100,000 devices
and 1,000,000 events (seeded by ui_browser.sh).

    ui_browser.py BASE TOKEN_FILE READ_TOKEN_FILE SHOTS_DIR EVIL_BASE

Prints one line per check and the timings; exits 1 on the first failure."""
import json
import os
import statistics
import sys
import time
import subprocess
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, TOKEN_FILE, READ_TOKEN_FILE, SHOTS, EVIL = sys.argv[1:6]
TOKEN = open(TOKEN_FILE).read().strip()
READ_TOKEN = open(READ_TOKEN_FILE).read().strip()
MAC = "52:54:00:aa:bb:01"
os.makedirs(SHOTS, exist_ok=True)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    try:
        drv.save_screenshot(os.path.join(SHOTS, "failure.png"))
    except Exception:
        pass
    sys.exit(1)


def ok(msg):
    print("ok: " + msg, flush=True)


def bearer(method, path, body=None):
    req = urllib.request.Request(BASE + path, method=method,
                                 headers={"Authorization": "Bearer " + TOKEN})
    if body is not None:
        req.data = json.dumps(body).encode()
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
drv = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"),
                       options=opts)
wait = WebDriverWait(drv, 10)
console_errors = []


def collect_console(expected=()):
    """Console entries of level SEVERE, minus the network failures a step
    provoked on purpose (a wrong token is a 401)."""
    for e in drv.get_log("browser"):
        if e["level"] != "SEVERE":
            continue
        if any(x in e["message"] for x in expected):
            continue
        console_errors.append(e["message"])


def shot(name):
    drv.save_screenshot(os.path.join(SHOTS, name + ".png"))


def wait_css(css, timeout=10):
    try:
        return WebDriverWait(drv, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))
    except TimeoutException:
        fail("no %s on %s" % (css, drv.current_url))


def wait_text(css, text, timeout=10):
    try:
        WebDriverWait(drv, timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    except TimeoutException:
        el = drv.find_elements(By.CSS_SELECTOR, css)
        fail("%s never showed '%s' (shows '%s')" % (css, text, el[0].text[:300] if el else "nothing"))


def fill(form, values):
    for k, v in values.items():
        el = drv.find_element(By.ID, form + "-" + k)
        if el.tag_name == "select":
            Select(el).select_by_value(v)
        else:
            el.clear()
            el.send_keys(v)
    drv.find_element(By.CSS_SELECTOR, "#" + form + " button[type=submit]").click()


def go(hash_, ready):
    drv.get(BASE + "/ui/" + hash_)
    return wait_css(ready)


def first_paint_ms():
    return drv.execute_script(
        "const p = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');"
        "return p ? p.startTime : null;")


def api_times():
    """Every /api/v1/ call the page made, with its duration (Resource Timing)."""
    return drv.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/api/v1/') && !e.name.includes('/stream'))"
        ".map(e => [e.name.replace(location.origin, ''), e.duration]);")


# 1. Nothing without signing in; a wrong token is refused.
st, _ = (lambda r: (r.status, None))(urllib.request.urlopen(BASE + "/ui/", timeout=5))
try:
    urllib.request.urlopen(BASE + "/api/v1/devices", timeout=5)
    fail("the API answered without a token or session")
except urllib.error.HTTPError as e:
    if e.code != 401:
        fail("API without credentials: %d, not 401" % e.code)
ok("the API refuses a request with no token and no session (401)")

drv.get(BASE + "/ui/")
wait_css("#token")
shot("signin")
drv.find_element(By.ID, "token").send_keys("0" * 64 + Keys.ENTER)
wait_text("#signin-err", "wrong")
if drv.find_elements(By.CSS_SELECTOR, "#top:not([hidden])"):
    fail("a wrong token signed in")
collect_console(expected=("/api/v1/session",))
ok("a wrong token is refused and the error is shown")

# 2. Read-only sign-in: can see, cannot change.
drv.find_element(By.ID, "token").clear()
drv.find_element(By.ID, "token").send_keys(READ_TOKEN + Keys.ENTER)
wait_text("#who", "read-only")
go("#/devices", "#dev-table")
if drv.find_element(By.CSS_SELECTOR, "#dev-add button[type=submit]").is_enabled():
    fail("a read-only session may press Add device")
cookie = drv.get_cookie("pxed_session")
if not cookie or not cookie.get("httpOnly") or cookie.get("sameSite") != "Strict":
    fail("session cookie is not HttpOnly + SameSite=Strict: %r" % cookie)
# Even with its CSRF token, a read-only session changes nothing.
res = drv.execute_async_script(
    "const done = arguments[arguments.length - 1]; (async () => {"
    "const s = await (await fetch('/api/v1/session')).json();"
    "const r = await fetch('/api/v1/devices', {method: 'POST', headers: {'X-CSRF-Token': s.csrf,"
    " 'Content-Type': 'application/json'}, body: JSON.stringify({name: 'ro-1', mac: '52:54:00:00:00:99'})});"
    "return r.status; })().then(done);")
if res != 403:
    fail("a read-only session's POST got %s, not 403" % res)
drv.find_element(By.ID, "signout").click()
wait_css("#token")
collect_console(expected=("/api/v1/devices",))
ok("read-only session: HttpOnly SameSite=Strict cookie, forms disabled, POST refused (403), signed out")

# 3. Admin sign-in.
drv.find_element(By.ID, "token").send_keys(TOKEN + Keys.ENTER)
wait_text("#who", "admin")
wait_css("#live-table")
ok("signed in with the admin token")

# 4. Devices: a bad MAC is shown next to its field, then a device is added.
go("#/devices", "#dev-table")
fill("dev-add", {"name": "lab-01", "mac": "not-a-mac"})
wait_text("#dev-add-mac-err", "MAC")
fill("dev-add", {"name": "lab-01", "mac": MAC})
go("#/devices?q=lab-01", "#dev-table")
wait_text("#dev-table", "lab-01")
wait_text("#dev-range", "1–1 of 1")
collect_console(expected=("/api/v1/devices - Failed to load resource: the server responded "
                          "with a status of 400",))
ok("device added through the form; a bad MAC is shown beside the MAC field")

# 5. An image and a required deployment for the device.
go("#/images", "#img-add")
fill("img-add", {"name": "deb12", "kernel": "deb/linux", "initrd": "deb/initrd.gz",
                 "cmdline": "console=ttyS0"})
wait_text("#page-images table", "deb12")
go("#/deployments", "#dep-add")
fill("dep-add", {"name": "reimage-lab-01", "image": "deb12", "kind": "device",
                 "target": "lab-01", "purpose": "required"})
wait_text("#dep-table", "reimage-lab-01")
st, dep = bearer("GET", "/api/v1/deployments/reimage-lab-01")
if st != 200 or dep["purpose"] != "required" or dep["device"] != "lab-01":
    fail("the deployment made in the browser is not what the API shows: %r" % dep)
ok("image and required deployment created in the browser")

# 6. Live: a boot appears within 2 s.
go("#/live", "#live-table")
WebDriverWait(drv, 5).until(lambda d: "on" in d.find_element(By.ID, "live-dot").get_attribute("class"))
# The script URL, with its one-time token, from a DHCP exchange as iPXE
# makes it (that answer is itself a decision on the Live page).
out = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "dhcp_client.py"),
                      "--unicast", "127.0.0.1", "--port", os.environ["PXE_PORT"], "--source", "127.0.0.1:0",
                      "--type", "request", "--ciaddr", "127.0.0.1", "--user-class", "iPXE",
                      "--mac", MAC, "--arch", "7", "--timeout", "2"],
                     capture_output=True, text=True, timeout=10).stdout
url = next((l[5:] for l in out.splitlines() if l.startswith("file=")), "")
if "/boot.ipxe?" not in url:
    fail("no script URL in the iPXE DHCP answer: %r" % out)
wait_text("#live-body", MAC, timeout=5)
time.sleep(0.5)
before = int(drv.find_element(By.ID, "count-boot").text)
t0 = time.monotonic()
with urllib.request.urlopen(url, timeout=5) as r:
    script = r.read().decode()
if "deb/linux" not in script:
    fail("boot.ipxe did not hand out the deployment: " + script[:200])
WebDriverWait(drv, 2).until(lambda d: int(d.find_element(By.ID, "count-boot").text) >= before + 1)
seen = time.monotonic() - t0
row = drv.find_element(By.CSS_SELECTOR, "#live-body tr").text
if "boot" not in row or "lab-01" not in row or "reimage-lab-01" not in row:
    fail("live row lacks outcome, device or deployment: " + row)
if int(drv.find_element(By.ID, "count-boot").text) != before + 1:
    fail("the boot count did not go up")
shot("live")
ok("a boot shows on the Live page %.0f ms after /boot.ipxe answered" % (seen * 1000))

# 7. The deployment's status: handed out 1.
go("#/deployments/reimage-lab-01", "#status-handed_out")
wait_text("#status-handed_out", "1")
wait_text("#dep-devices", "lab-01")
shot("deployment")
ok("the deployment page shows it handed out to lab-01")

# 8. Clear required deployments on the device page; the count and the
#    device's hand-out go back.
go("#/devices/lab-01", "#dev-deps")
drv.find_element(By.XPATH, "//button[text()='Clear required deployments']").click()
wait_text("#toast", "1 hand-out(s) cleared")
wait_text("#dev-deps", "not yet")
shot("device")
st, dev = bearer("GET", "/api/v1/devices/lab-01?detail=1")
if dev["deployments"][0]["handed_out"] is not None:
    fail("the hand-out was not cleared: %r" % dev)
ok("Clear required deployments cleared the hand-out")

# 9. A cross-site form post with the session cookie in the browser is
#    refused (no CSRF token, foreign Origin), and nothing is imported.
drv.get(EVIL + "/evil.html")
wait_css("#go").click()
time.sleep(1)
body = drv.find_element(By.TAG_NAME, "body").text
st, found = bearer("GET", "/api/v1/devices?q=evil-1")
if found:
    fail("the cross-site form post imported a device: %r" % found)
if "csrf" not in body and "unauthorized" not in body:
    fail("the cross-site post was not refused as expected: " + body[:300])
collect_console(expected=("/api/v1/devices/import", "evil.html", "favicon"))
ok("a cross-site form post is refused (%s) and imports nothing" % ("csrf" if "csrf" in body else "401"))

# 10. Every page: first paint and each API call timed, with 100,000
#     devices and 1,000,000 events; screenshots at 1280 px.
pages = [("#/live", "#live-body tr", "live"), ("#/devices", "#dev-table", "devices"),
         ("#/devices?q=node-0999", "#dev-table", "devices-search"),
         ("#/devices?offset=99950", "#dev-table", "devices-last-page"),
         ("#/devices/node-050000", "#dev-deps", "device-seeded"),
         ("#/collections", "#page-collections table", "collections"),
         ("#/images", "#page-images table", "images"), ("#/deployments", "#dep-table", "deployments"),
         ("#/deployments/reimage-lab-01", "#dep-devices", "deployment-2"),
         ("#/settings", "#settings-table", "settings"), ("#/status", "#metrics-table", "status")]
worst_paint, worst_api, slow = 0, 0, []
for hash_, ready, name in pages:
    drv.get("about:blank")
    go(hash_, ready)
    time.sleep(0.3)
    fp = first_paint_ms() or 0
    calls = api_times()
    worst_paint = max(worst_paint, fp)
    for url, ms in calls:
        worst_api = max(worst_api, ms)
        # A substring search (q=) reads all 100,000 rows (LIKE '%q%' uses
        # no index): about 50 ms on an idle machine of two cores, more
        # when it is shared; it is held to 300 ms, every other call to 100.
        if ms >= (300 if "q=" in url else 100):
            slow.append((url, round(ms)))
    print("  %-30s first paint %4.0f ms; API: %s" % (hash_, fp, ", ".join(
        "%s %.0f ms" % (u.split("?")[0].replace("/api/v1/", ""), m) for u, m in calls)))
    if name not in ("live", "deployment-2"):
        shot(name)
    if fp >= 1000:
        fail("%s: first paint %.0f ms" % (hash_, fp))
ok("first paint at most %.0f ms on every page, slowest API call %.0f ms" % (worst_paint, worst_api))
if slow:
    # One retry: the machine is shared; a call slow twice is slow.
    again = []
    for url, _ in slow:
        t = time.monotonic()
        drv.execute_async_script("fetch(arguments[0]).then(() => arguments[1]());", url)
        ms = (time.monotonic() - t) * 1000
        if ms >= (300 if "q=" in url else 100):
            again.append((url, round(ms)))
    if again:
        fail("API calls over their bound (100 ms; 300 ms for a search): %r" % again)
    ok("calls over their bound on the first try were under it on a second: %r" % slow)

# 11. Phone width: the Live page still lays out (no horizontal page scroll).
drv.set_window_size(390, 844)
go("#/live", "#live-body tr")
time.sleep(0.3)
shot("live-phone")
overflow = drv.execute_script("return document.documentElement.scrollWidth - window.innerWidth;")
if overflow > 2:
    fail("the Live page scrolls sideways by %d px at phone width" % overflow)
# Keyboard: the navigation is reachable with Tab.
drv.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
focused = drv.switch_to.active_element.get_attribute("class") or drv.switch_to.active_element.text
ok("phone width lays out without sideways scroll; Tab reaches '%s'" % focused)
drv.set_window_size(1280, 900)

# 12. Sign out: the API refuses the old cookie.
go("#/live", "#live-table")
old = drv.get_cookie("pxed_session")["value"]
drv.find_element(By.ID, "signout").click()
wait_css("#token")
req = urllib.request.Request(BASE + "/api/v1/devices", headers={"Cookie": "pxed_session=" + old})
try:
    urllib.request.urlopen(req, timeout=5)
    fail("the signed-out session still reads the API")
except urllib.error.HTTPError as e:
    if e.code != 401:
        fail("signed-out session: %d, not 401" % e.code)
ok("signed out: the old session cookie is refused (401)")

collect_console()
if console_errors:
    fail("browser console errors: %r" % console_errors)
ok("no errors in the browser console")
drv.quit()
