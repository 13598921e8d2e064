//+------------------------------------------------------------------+
//| TradeAlertsBridge.mq5                                             |
//| Sends the owner's indicator buffers to tradealerts-server.        |
//|                                                                  |
//| Wire format (the contract; docs/api.md, "Ingest"):               |
//|   POST <InpServerUrl>/api/ingest/indicators                      |
//|   Authorization: Bearer <InpToken>   (tradealerts-server         |
//|                                       ingest-token create)       |
//|   {"symbol":"EURUSD","timeframe":"H1","indicator":"...",         |
//|    "buffers":[0,1],                                              |
//|    "bars":[{"time":1731661200,"values":[1.05912,null]}]}         |
//|   time: the bar's open time in epoch seconds UTC, converted from |
//|   the broker's clock with the offset in force at that bar (see   |
//|   BrokerToUtc); a value that means "nothing on this bar"         |
//|   (EMPTY_VALUE, -EMPTY_VALUE, any |v| > 1e100, NaN, inf) is null. |
//|                                                                  |
//| What it does: for every symbol x timeframe, once the terminal    |
//| has the series (SERIES_SYNCHRONIZED) and the indicator has       |
//| calculated every bar, the last InpHistoryBars closed bars, in    |
//| batches of InpBatchBars, oldest first; then, when a bar closes,  |
//| the last InpResendBars closed bars (a fractal is marked on its   |
//| bar only when later bars close; the server stores by bar time,   |
//| so a repeat changes nothing). Each series is on its own: a       |
//| symbol the terminal lacks is skipped, a failure backs off only   |
//| its own series.                                                  |
//|                                                                  |
//| Answers: 200 next batch; 413 the batch is halved and sent again; |
//| 401 nothing more is sent (the token); any other 4xx is logged    |
//| once with the server's message and that series is not sent again |
//| until the inputs change (no retry can fix bad data); 408, 429,   |
//| 5xx and network errors back off 1 s doubling to 60 s (or the     |
//| server's Retry-After), timed with GetTickCount64.                |
//|                                                                  |
//| Install: MetaEditor > open this file > Compile; attach the EA to |
//| any one chart; Tools > Options > Expert Advisors > "Allow        |
//| WebRequest for listed URL" and add InpServerUrl.                 |
//+------------------------------------------------------------------+
#property copyright "tradealerts"
#property version   "2.00"

input string InpServerUrl     = "http://127.0.0.1:8000"; // server URL (also in the WebRequest list)
input string InpToken         = "";                      // ingest token (tai_...)
input string InpSymbols       = "EURUSD";                // symbols, comma-separated (terminal names)
input string InpTimeframes    = "H1,H4,D1";              // M5,M15,M30,H1,H2,H4,H8,H12,D1
input string InpIndicator     = "Examples\\Fractals";    // indicator path under MQL5\Indicators
input string InpIndicatorArgs = "";                      // its inputs, comma-separated numbers
input string InpBuffers       = "0,1";                   // buffer indices to send
input int    InpHistoryBars   = 1000;                    // closed bars sent on start
input int    InpResendBars    = 10;                      // closed bars sent on each new bar
input int    InpBatchBars     = 500;                     // bars per request (1..5000; halved on 413)
input string InpBrokerOffset  = "auto";                  // broker's WINTER offset from UTC in minutes (120), or auto
input string InpBrokerDst     = "US";                    // broker's daylight saving: US (New-York close), EU, none
input int    InpTimeoutMs     = 5000;                    // a request's timeout, plus the time to upload it:
input int    InpUplinkKBps    = 16;                      // the slowest uplink to allow for, KiB/s

#define MAX_BARS_PER_REQUEST 5000      // the endpoint's limit (and 2 MiB: a 413 halves the batch)
#define BACKOFF_FIRST_MS     1000      // first wait after a failure, doubling...
#define BACKOFF_MAX_MS       60000     // ...up to this
#define RETRY_AFTER_MAX_MS   600000    // a server's Retry-After is obeyed up to 10 minutes
#define WORK_BUDGET_MS       2000      // one timer tick sends batches for at most this long
#define HUGE_VALUE           1e100     // beyond this a buffer value is an "empty" marker, not a price

// One (symbol, timeframe) the EA serves, and where its sending stands.
struct Series
  {
   string            symbol;
   ENUM_TIMEFRAMES   period;
   string            tf;         // our name: "H1"
   int               handle;     // the indicator on this series
   datetime          sent_upto;  // broker open time of the newest closed bar sent (0: none yet)
   datetime          cursor;     // the job: broker times [cursor, target] still to send (0: no job)
   datetime          target;
   int               chunk;      // bars per request (halved on 413)
   ulong             next_try;   // GetTickCount64() before which it waits (back-off)
   ulong             delay;      // the back-off's current wait, ms (0: no failure)
   int               failures;   // failures in a row
   bool              refused;    // a permanent refusal: not sent again until re-initialised
   string            last_note;  // the last failure or wait logged (a repeat is not logged again)
  };

// Globals survive a re-initialisation (inputs, chart symbol or period changed: MT5 calls
// OnDeinit and OnInit without unloading the program), so OnInit resets every one of them.
Series g_series[];
int    g_buffers[];
string g_buffers_json = "";
string g_url = "";
bool   g_stopped = false;       // 401: the token is refused, nothing is sent until re-initialised
long   g_winter_offset = 0;     // broker time - UTC in winter, seconds
bool   g_offset_auto = true;    // g_winter_offset is worked out from the terminal's clocks
bool   g_offset_known = false;  // g_winter_offset holds a value
int    g_dst = 1;               // daylight saving rule: 0 none, 1 US dates, 2 EU dates

//--- our timeframe names and MQL5's periods, in the same order
string TF_NAMES[9] = {"M5","M15","M30","H1","H2","H4","H8","H12","D1"};
ENUM_TIMEFRAMES TF_PERIODS[9] = {PERIOD_M5,PERIOD_M15,PERIOD_M30,PERIOD_H1,PERIOD_H2,
                                 PERIOD_H4,PERIOD_H8,PERIOD_H12,PERIOD_D1};

//+------------------------------------------------------------------+
int OnInit()
  {
   ResetState();
   if(InpToken == "")
     { Print("TradeAlertsBridge: set InpToken (tradealerts-server ingest-token create)"); return INIT_PARAMETERS_INCORRECT; }
   if(InpBatchBars < 1 || InpBatchBars > MAX_BARS_PER_REQUEST || InpHistoryBars < 1 || InpResendBars < 1 ||
      InpTimeoutMs < 1000 || InpUplinkKBps < 1)
     { Print("TradeAlertsBridge: InpBatchBars is 1..5000, InpHistoryBars and InpResendBars at least 1, InpTimeoutMs at least 1000, InpUplinkKBps at least 1"); return INIT_PARAMETERS_INCORRECT; }
   if(!ParseBuffers() || !ParseClock())
      return INIT_PARAMETERS_INCORRECT;
   if(g_offset_auto)
      AutoOffset();   // before the terminal is connected it may not know yet: Plan() waits
   g_url = InpServerUrl;
   StringTrimLeft(g_url); StringTrimRight(g_url);
   while(StringLen(g_url) > 0 && StringGetCharacter(g_url, StringLen(g_url) - 1) == '/')
      g_url = StringSubstr(g_url, 0, StringLen(g_url) - 1);
   string syms[], tfs[];
   int ns = StringSplit(InpSymbols, ',', syms);
   int nt = StringSplit(InpTimeframes, ',', tfs);
   for(int t = 0; t < nt; t++)             // a timeframe typo is an input error for every symbol
     {
      StringTrimLeft(tfs[t]); StringTrimRight(tfs[t]); StringToUpper(tfs[t]);
      if(TfIndex(tfs[t]) < 0)
        { Print("TradeAlertsBridge: unknown timeframe '", tfs[t], "' in InpTimeframes (M5,M15,M30,H1,H2,H4,H8,H12,D1)"); return INIT_PARAMETERS_INCORRECT; }
     }
   for(int s = 0; s < ns; s++)
     {
      StringTrimLeft(syms[s]); StringTrimRight(syms[s]);
      if(syms[s] == "")
         continue;
      // one missing symbol must not stop the others: it is skipped, with the reason
      ResetLastError();
      if(!SymbolSelect(syms[s], true))
        { Print("TradeAlertsBridge: ", syms[s], " skipped: the terminal has no such symbol (error ", GetLastError(), "); check the name in Market Watch"); continue; }
      for(int t = 0; t < nt; t++)
        {
         int k = TfIndex(tfs[t]);
         ResetLastError();
         int handle = MakeIndicator(syms[s], TF_PERIODS[k]);
         if(handle == INVALID_HANDLE)
           { Print("TradeAlertsBridge: ", syms[s], " ", TF_NAMES[k], " skipped: cannot load ", InpIndicator, " (error ", GetLastError(), ")"); continue; }
         AddSeries(syms[s], k, handle);
        }
     }
   if(ArraySize(g_series) == 0)
     { Print("TradeAlertsBridge: no series to serve (see the lines above)"); return INIT_FAILED; }
   PrintFormat("TradeAlertsBridge: %d series; broker clock %s in winter (%s), daylight saving %s; batches of %d bars",
               ArraySize(g_series), g_offset_known ? StringFormat("UTC%+.2f", g_winter_offset / 3600.0) : "not known yet",
               g_offset_auto ? "from the terminal" : "InpBrokerOffset",
               g_dst == 1 ? "US dates" : (g_dst == 2 ? "EU dates" : "none"), InpBatchBars);
   EventSetTimer(1);   // all work happens in OnTimer: OnInit returns at once
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   for(int i = 0; i < ArraySize(g_series); i++)
      IndicatorRelease(g_series[i].handle);
   ArrayFree(g_series);
  }

void ResetState()
  {
   ArrayFree(g_series);
   ArrayFree(g_buffers);
   g_buffers_json = "";
   g_url = "";
   g_stopped = false;
   g_winter_offset = 0;
   g_offset_auto = true;
   g_offset_known = false;
   g_dst = 1;
  }

void AddSeries(string symbol, int k, int handle)
  {
   Series x;
   x.symbol = symbol; x.period = TF_PERIODS[k]; x.tf = TF_NAMES[k]; x.handle = handle;
   x.sent_upto = 0; x.cursor = 0; x.target = 0; x.chunk = InpBatchBars;
   x.next_try = 0; x.delay = 0; x.failures = 0; x.refused = false; x.last_note = "";
   int n = ArraySize(g_series);
   ArrayResize(g_series, n + 1);
   g_series[n] = x;
  }

//+------------------------------------------------------------------+
//| Batches round the series until there is nothing to send, or the   |
//| tick's budget is spent (WebRequest blocks this EA's thread only).  |
//+------------------------------------------------------------------+
void OnTimer()
  {
   ulong start = GetTickCount64();
   bool worked = true;
   while(worked && !g_stopped && GetTickCount64() - start < WORK_BUDGET_MS)
     {
      worked = false;
      for(int i = 0; i < ArraySize(g_series) && !g_stopped; i++)
         if(Step(g_series[i]))
            worked = true;
     }
  }

// One batch of one series, if it has one due; true when it sent (there may be more).
bool Step(Series &x)
  {
   if(x.refused || GetTickCount64() < x.next_try)
      return false;
   if(x.cursor == 0 && !Plan(x))
      return false;
   return SendBatch(x);
  }

// The next job: the history on start, then each new closed bar with the InpResendBars before it
// (and every bar missed while the server was away).
bool Plan(Series &x)
  {
   // history read before the terminal has it from the trade server would go out with holes
   if(!SeriesInfoInteger(x.symbol, x.period, SERIES_SYNCHRONIZED))
      return Wait(x, "the terminal is still loading its history");
   int bars = Bars(x.symbol, x.period);
   if(bars < 2 || BarsCalculated(x.handle) < bars)
      return Wait(x, "the indicator is still calculating");
   if(g_offset_auto && !AutoOffset())
      return Wait(x, "the terminal does not know the trade server's time yet");
   datetime last_closed = iTime(x.symbol, x.period, 1);
   if(last_closed == 0 || last_closed <= x.sent_upto)
      return false;                                   // nothing new
   int back = MathMin(bars - 1, x.sent_upto == 0 ? InpHistoryBars : InpResendBars);
   datetime from = iTime(x.symbol, x.period, back);
   if(x.sent_upto != 0 && x.sent_upto + 1 < from)
      from = x.sent_upto + 1;                         // bars closed while the server was away
   if(from == 0)
      return Wait(x, "the terminal has no bar times yet");
   x.cursor = from;
   x.target = last_closed;
   return true;
  }

// Read one batch (times and buffers by one time range, in one consistent read) and post it.
bool SendBatch(Series &x)
  {
   datetime times[];
   ResetLastError();
   int n = CopyTime(x.symbol, x.period, x.cursor, x.target, times);
   if(n <= 0)
     {
      Retry(x, StringFormat("CopyTime found no bars from %s to %s (error %d)", TimeToString(x.cursor), TimeToString(x.target), GetLastError()), 0);
      return false;
     }
   n = MathMin(n, x.chunk);
   datetime first = times[0], last = times[n - 1];
   int nb = ArraySize(g_buffers);
   double cols[];                                     // buffer b, bar j at cols[b * n + j]
   ArrayResize(cols, nb * n);
   if(!ReadRange(x, first, last, n, times, cols))
     {
      Retry(x, "the series changed while it was read (history update): read again", 0);
      return false;
     }
   string body = Body(x, times, cols, n);
   char data[], result[];
   int size = StringToCharArray(body, data, 0, WHOLE_ARRAY, CP_UTF8) - 1;
   ArrayResize(data, size);                           // no trailing NUL on the wire
   // a batch must have time to go up a slow uplink: a fixed 3 s cannot carry 1.9 MB
   int timeout = (int)(InpTimeoutMs + (long)size * 1000 / ((long)InpUplinkKBps * 1024));
   string headers = "Content-Type: application/json\r\nAuthorization: Bearer " + InpToken + "\r\n";
   string answer_headers;
   ResetLastError();
   int status = WebRequest("POST", g_url + "/api/ingest/indicators", headers, timeout, data, result, answer_headers);
   if(status == -1)
     {
      int err = GetLastError();
      Retry(x, WebRequestError(err, timeout), err == 4014 ? BACKOFF_MAX_MS : 0);
      return false;
     }
   string answer = CharArrayToString(result, 0, WHOLE_ARRAY, CP_UTF8);
   if(status == 200)
     {
      if(x.failures > 0)
         Print("TradeAlertsBridge: ", x.symbol, " ", x.tf, " sending again after ", x.failures, " failure(s)");
      x.failures = 0; x.delay = 0; x.last_note = "";
      x.cursor = last + 1;
      if(x.cursor > x.target)
        { x.sent_upto = x.target; x.cursor = 0; }
      return true;
     }
   if(status == 413 && n > 1)
     {
      // the body is over the server's limit: the same bars in smaller batches
      x.chunk = MathMax(1, n / 2);
      Print("TradeAlertsBridge: ", x.symbol, " ", x.tf, ": ", n, " bars (", size, " bytes) are too large for the server: batches of ", x.chunk, " from now on");
      return true;
     }
   if(status == 401)
     {
      g_stopped = true;
      Print("TradeAlertsBridge: the server refuses the token (401 ", JsonField(answer, "code"), "): ", JsonField(answer, "message"),
            " Nothing is sent until InpToken is changed.");
      return false;
     }
   if(status == 408 || status == 429 || status >= 500)
     {
      Retry(x, StringFormat("the server answered %d %s: %s", status, JsonField(answer, "code"), JsonField(answer, "message")),
            RetryAfterMs(answer_headers));
      return false;
     }
   // any other answer (a 4xx: bad data or settings; a redirect) is the same on every retry
   x.refused = true;
   Print("TradeAlertsBridge: ", x.symbol, " ", x.tf, " refused by the server (", status, " ", JsonField(answer, "code"), "): ",
         JsonField(answer, "message"), " Not sent again until the EA's inputs change.");
   return false;
  }

// Times and every buffer over [first, last] by time, so that a bar opening between the calls
// cannot shift one against the other; every count must match, and the times are read again
// after the buffers (a history update in between makes the read start over).
bool ReadRange(Series &x, datetime first, datetime last, int n, datetime &times[], double &cols[])
  {
   datetime check[];
   if(CopyTime(x.symbol, x.period, first, last, check) != n)
      return false;
   for(int j = 0; j < n; j++)
      if(check[j] != times[j])
         return false;
   for(int b = 0; b < ArraySize(g_buffers); b++)
     {
      double col[];
      if(CopyBuffer(x.handle, g_buffers[b], first, last, col) != n)
         return false;
      for(int j = 0; j < n; j++)
         cols[b * n + j] = col[j];                    // oldest first, like times[]
     }
   if(CopyTime(x.symbol, x.period, first, last, check) != n || check[0] != first || check[n - 1] != last)
      return false;
   return true;
  }

string Body(Series &x, datetime &times[], double &cols[], int n)
  {
   int nb = ArraySize(g_buffers);
   string body = "{\"symbol\":\"" + JsonEscape(x.symbol) + "\",\"timeframe\":\"" + x.tf +
                 "\",\"indicator\":\"" + JsonEscape(InpIndicator) + "\",\"buffers\":" + g_buffers_json +
                 ",\"bars\":[";
   for(int j = 0; j < n; j++)
     {
      body += (j ? "," : "") + "{\"time\":" + IntegerToString(BrokerToUtc(times[j])) + ",\"values\":[";
      for(int b = 0; b < nb; b++)
         body += (b ? "," : "") + Number(cols[b * n + j]);
      body += "]}";
     }
   body += "]}";
   return body;
  }

// A transient failure: wait, 1 s doubling to 60 s (at least the server's Retry-After), then
// the same batch again. A failure like the previous one is not logged again.
bool Retry(Series &x, string why, ulong at_least_ms)
  {
   x.failures++;
   x.delay = x.delay == 0 ? BACKOFF_FIRST_MS : x.delay * 2;
   if(x.delay > BACKOFF_MAX_MS)
      x.delay = BACKOFF_MAX_MS;
   if(at_least_ms > x.delay)
      x.delay = at_least_ms < RETRY_AFTER_MAX_MS ? at_least_ms : RETRY_AFTER_MAX_MS;
   x.next_try = GetTickCount64() + x.delay;
   if(why != x.last_note)
      Print("TradeAlertsBridge: ", x.symbol, " ", x.tf, ": ", why, "; retrying in ", x.delay / 1000, " s");
   x.last_note = why;
   return false;
  }

// Not ready yet (no failure): look again on the next tick, say so once.
bool Wait(Series &x, string why)
  {
   if(why != x.last_note)
      Print("TradeAlertsBridge: ", x.symbol, " ", x.tf, " waits: ", why);
   x.last_note = why;
   return false;
  }

// What a WebRequest error means, and what to do about it.
string WebRequestError(int err, int timeout)
  {
   switch(err)
     {
      case 4014: return "error 4014: WebRequest is not allowed for " + g_url + ": add it exactly in Tools > Options > Expert Advisors > Allow WebRequest for listed URL (and note WebRequest never works in the Strategy Tester)";
      case 5200: return "error 5200: the URL is invalid: check InpServerUrl (http:// or https://, host, port)";
      case 5201: return "error 5201: cannot connect to " + g_url + ": is tradealerts-server running and reachable from this machine (firewall, port)?";
      case 5202: return StringFormat("error 5202: no answer within %d ms: the server or the uplink is slow (raise InpTimeoutMs, or lower InpUplinkKBps/InpBatchBars)", timeout);
      case 5203: return "error 5203: the HTTP request failed (TLS certificate, proxy, DNS or a dropped connection)";
     }
   return StringFormat("WebRequest error %d (see the MQL5 runtime errors list)", err);
  }

//+------------------------------------------------------------------+
//| The broker's clock                                                 |
//+------------------------------------------------------------------+
// MT5 stamps bars with the trade server's clock. Most forex brokers keep it at New York + 7 h
// (UTC+2 in winter, UTC+3 in summer, on the US dates: the D1 bar closes at 17:00 New York);
// some switch on the EU dates. The wire carries UTC, so every bar is converted with the
// offset in force at its own time: one offset for all history would put every bar before the
// last switch an hour off.
bool ParseClock()
  {
   string rule = InpBrokerDst;
   StringTrimLeft(rule); StringTrimRight(rule); StringToUpper(rule);
   if(rule == "US") g_dst = 1;
   else if(rule == "EU") g_dst = 2;
   else if(rule == "NONE") g_dst = 0;
   else
     { Print("TradeAlertsBridge: InpBrokerDst is US, EU or none"); return false; }
   string off = InpBrokerOffset;
   StringTrimLeft(off); StringTrimRight(off); StringToLower(off);
   g_offset_auto = off == "auto";
   if(g_offset_auto)
      return true;
   long minutes = StringToInteger(off);
   if(off == "" || (minutes == 0 && off != "0") || minutes < -12 * 60 || minutes > 14 * 60)
     { Print("TradeAlertsBridge: InpBrokerOffset is auto or the broker's winter offset in minutes (120 for UTC+2)"); return false; }
   g_winter_offset = minutes * 60;
   g_offset_known = true;
   return true;
  }

// The winter offset from the terminal's clocks: its offset now, on whole quarter hours, less
// the hour of summer time if the rule says it is summer now. False while the terminal does
// not know the trade server's time (not connected yet).
bool AutoOffset()
  {
   datetime server = TimeTradeServer(), gmt = TimeGMT();
   if(server == 0 || gmt == 0)
      return false;
   long now = (long)MathRound((double)(server - gmt) / 900.0) * 900;
   long winter = now - (IsSummerUtc(gmt) ? 3600 : 0);
   if(winter < -12 * 3600 || winter > 14 * 3600)
      return false;
   if(g_offset_known && winter != g_winter_offset)
      PrintFormat("TradeAlertsBridge: the broker's winter offset is now UTC%+.2f (was UTC%+.2f): is InpBrokerDst right?",
                  winter / 3600.0, g_winter_offset / 3600.0);
   g_winter_offset = winter;
   g_offset_known = true;
   return true;
  }

// A bar's broker open time as UTC, with the offset in force at that bar. The spring switch
// skips an hour of broker time; the autumn one repeats an hour, whose bars (one per broker
// time) are taken at their first pass, as the server's MT5 feed does.
long BrokerToUtc(datetime broker)
  {
   long t = (long)broker;
   if(g_dst == 0)
      return t - g_winter_offset;
   MqlDateTime d;
   TimeToStruct(broker, d);
   long start = (long)SummerStartUtc(d.year) + g_winter_offset;          // broker time, winter clock
   long end = (long)SummerEndUtc(d.year) + g_winter_offset + 3600;       // broker time, summer clock
   bool summer = t >= start && t < end;
   return t - g_winter_offset - (summer ? 3600 : 0);
  }

bool IsSummerUtc(datetime utc)
  {
   if(g_dst == 0)
      return false;
   MqlDateTime d;
   TimeToStruct(utc, d);
   return utc >= SummerStartUtc(d.year) && utc < SummerEndUtc(d.year);
  }

// US: from the second Sunday of March 2:00 New York (07:00 UTC) to the first Sunday of
// November 2:00 (06:00 UTC). EU: the last Sunday of March to the last of October, 01:00 UTC.
datetime SummerStartUtc(int year)
  {
   if(g_dst == 1)
      return NthSunday(year, 3, 2) + 7 * 3600;
   return LastSunday(year, 3) + 1 * 3600;
  }

datetime SummerEndUtc(int year)
  {
   if(g_dst == 1)
      return NthSunday(year, 11, 1) + 6 * 3600;
   return LastSunday(year, 10) + 1 * 3600;
  }

datetime DayStart(int year, int month, int day)
  {
   MqlDateTime d;
   ZeroMemory(d);
   d.year = year; d.mon = month; d.day = day;
   return StructToTime(d);
  }

datetime NthSunday(int year, int month, int n)
  {
   datetime first = DayStart(year, month, 1);
   MqlDateTime d;
   TimeToStruct(first, d);
   return first + ((7 - d.day_of_week) % 7 + 7 * (n - 1)) * 86400;
  }

datetime LastSunday(int year, int month)
  {
   datetime last = (month == 12 ? DayStart(year + 1, 1, 1) : DayStart(year, month + 1, 1)) - 86400;
   MqlDateTime d;
   TimeToStruct(last, d);
   return last - d.day_of_week * 86400;
  }

//+------------------------------------------------------------------+
//| Helpers                                                            |
//+------------------------------------------------------------------+
int TfIndex(string name)
  {
   for(int k = 0; k < 9; k++)
      if(TF_NAMES[k] == name)
         return k;
   return -1;
  }

bool ParseBuffers()
  {
   string parts[];
   int nb = StringSplit(InpBuffers, ',', parts);
   if(nb < 1)
     { Print("TradeAlertsBridge: InpBuffers names no buffer"); return false; }
   ArrayResize(g_buffers, nb);
   g_buffers_json = "[";
   for(int i = 0; i < nb; i++)
     {
      StringTrimLeft(parts[i]); StringTrimRight(parts[i]);
      long b = StringToInteger(parts[i]);
      if(b < 0 || b > 511 || (b == 0 && parts[i] != "0"))
        { Print("TradeAlertsBridge: InpBuffers: '", parts[i], "' is not a buffer index (0..511)"); return false; }
      g_buffers[i] = (int)b;
      g_buffers_json += (i ? "," : "") + IntegerToString(b);
     }
   g_buffers_json += "]";
   return true;
  }

// The indicator with its inputs (numbers) from InpIndicatorArgs.
int MakeIndicator(string symbol, ENUM_TIMEFRAMES period)
  {
   string args[];
   int na = InpIndicatorArgs == "" ? 0 : StringSplit(InpIndicatorArgs, ',', args);
   MqlParam params[];
   ArrayResize(params, na + 1);
   params[0].type = TYPE_STRING;
   params[0].string_value = InpIndicator;
   for(int i = 0; i < na; i++)
     {
      double v = StringToDouble(args[i]);
      if(v == MathRound(v)) { params[i + 1].type = TYPE_INT; params[i + 1].integer_value = (long)v; }
      else                  { params[i + 1].type = TYPE_DOUBLE; params[i + 1].double_value = v; }
     }
   return IndicatorCreate(symbol, period, IND_CUSTOM, na + 1, params);
  }

// A buffer value as JSON. Indicators mark "nothing here" with EMPTY_VALUE, some with
// -EMPTY_VALUE or another huge number; NaN and infinities are not JSON. All of them are null.
string Number(double v)
  {
   if(!MathIsValidNumber(v) || MathAbs(v) > HUGE_VALUE)
      return "null";
   return StringFormat("%.15g", v);
  }

// A JSON string's content: quote, backslash and control characters escaped.
string JsonEscape(string s)
  {
   string out = "";
   int len = StringLen(s);
   for(int i = 0; i < len; i++)
     {
      ushort c = StringGetCharacter(s, i);
      if(c == '"')
         out += "\\\"";
      else if(c == '\\')
         out += "\\\\";
      else if(c < 0x20)
         out += StringFormat("\\u%04x", c);
      else
         out += ShortToString(c);
     }
   return out;
  }

// A string field of the server's error body {"error": {"code": "...", "message": "..."}};
// the start of the answer itself when there is none (a proxy's page).
string JsonField(string json, string key)
  {
   int at = StringFind(json, "\"" + key + "\"");
   if(at < 0)
      return key == "message" ? StringSubstr(json, 0, 300) : "";
   at = StringFind(json, "\"", StringFind(json, ":", at) + 1);
   if(at < 0)
      return "";
   string out = "";
   for(int i = at + 1; i < StringLen(json); i++)
     {
      ushort c = StringGetCharacter(json, i);
      if(c == '"')
         break;
      if(c == '\\' && i + 1 < StringLen(json))
        {
         i++;
         c = StringGetCharacter(json, i);
         if(c == 'n') c = ' ';
        }
      out += ShortToString(c);
     }
   return out;
  }

// Retry-After (seconds) from the answer's headers, in ms; 0 when absent.
ulong RetryAfterMs(string headers)
  {
   string lines[];
   int n = StringSplit(headers, '\n', lines);
   for(int i = 0; i < n; i++)
     {
      string line = lines[i];
      StringToLower(line);
      if(StringFind(line, "retry-after:") == 0)
        {
         string v = StringSubstr(line, 12);
         StringTrimLeft(v); StringTrimRight(v);
         long s = StringToInteger(v);
         return s > 0 ? (ulong)s * 1000 : 0;
        }
     }
   return 0;
  }
//+------------------------------------------------------------------+
