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
//|    "bars":[{"time":1731661200,"values":[1.05912,1.797...e+308]}]}|
//|   time: bar open time, epoch seconds UTC; a value of EMPTY_VALUE |
//|   (or null) means "nothing on this bar".                         |
//|                                                                  |
//| What it does: on start, for every symbol x timeframe, the last   |
//| InpHistoryBars closed bars; then, when a bar closes, the last    |
//| InpResendBars closed bars (a fractal is marked on its bar only   |
//| when later bars close, so recent bars are sent again; the server |
//| stores by bar time, so a repeat changes nothing). A failed POST  |
//| is retried with back-off (1 s doubling to 60 s). Work runs on a  |
//| 1 s timer, one request per tick, with a short timeout: the EA's  |
//| own thread waits at most InpTimeoutMs, the terminal never does.  |
//|                                                                  |
//| Install: MetaEditor > open this file > Compile; attach the EA to |
//| any one chart; Tools > Options > Expert Advisors > "Allow        |
//| WebRequest for listed URL" and add InpServerUrl.                 |
//+------------------------------------------------------------------+
#property copyright "tradealerts"
#property version   "1.00"

input string InpServerUrl     = "http://127.0.0.1:8000"; // server URL (also in the WebRequest list)
input string InpToken         = "";                      // ingest token (tai_...)
input string InpSymbols       = "EURUSD";                // symbols, comma-separated (terminal names)
input string InpTimeframes    = "H1,H4,D1";              // M5,M15,M30,H1,H2,H4,H8,H12,D1
input string InpIndicator     = "Examples\\Fractals";    // indicator path under MQL5\Indicators
input string InpIndicatorArgs = "";                      // its inputs, comma-separated numbers
input string InpBuffers       = "0,1";                   // buffer indices to send
input int    InpHistoryBars   = 1000;                    // closed bars sent on start (max 5000)
input int    InpResendBars    = 10;                      // closed bars sent on each new bar
input int    InpUtcOffsetMin  = -1;                      // broker time - UTC in minutes; -1 = auto
input int    InpTimeoutMs     = 3000;                    // one request's timeout

// One (symbol, timeframe) the EA serves.
struct Series
  {
   string            symbol;
   ENUM_TIMEFRAMES   period;
   string            tf;        // our name: "H1"
   int               handle;    // the indicator on this series
   datetime          last_bar;  // open time of the last closed bar sent (0: history not sent)
   datetime          next_try;  // back-off: not before this
   int               delay;     // seconds to wait after the next failure
  };

Series series[];
int    buffers[];
string buffers_json;

//--- our timeframe names and MQL5's periods, in the same order
string TF_NAMES[9] = {"M5","M15","M30","H1","H2","H4","H8","H12","D1"};
ENUM_TIMEFRAMES TF_PERIODS[9] = {PERIOD_M5,PERIOD_M15,PERIOD_M30,PERIOD_H1,PERIOD_H2,
                                 PERIOD_H4,PERIOD_H8,PERIOD_H12,PERIOD_D1};

//+------------------------------------------------------------------+
int OnInit()
  {
   if(InpToken == "")
     { Print("TradeAlertsBridge: set InpToken (tradealerts-server ingest-token create)"); return INIT_PARAMETERS_INCORRECT; }
   string parts[];
   int nb = StringSplit(InpBuffers, ',', parts);
   ArrayResize(buffers, nb);
   buffers_json = "[";
   for(int i = 0; i < nb; i++)
     {
      buffers[i] = (int)StringToInteger(parts[i]);
      buffers_json += (i ? "," : "") + IntegerToString(buffers[i]);
     }
   buffers_json += "]";
   string syms[], tfs[];
   int ns = StringSplit(InpSymbols, ',', syms);
   int nt = StringSplit(InpTimeframes, ',', tfs);
   for(int s = 0; s < ns; s++)
      for(int t = 0; t < nt; t++)
        {
         StringTrimLeft(syms[s]); StringTrimRight(syms[s]);
         StringTrimLeft(tfs[t]);  StringTrimRight(tfs[t]);
         int k = TfIndex(tfs[t]);
         if(k < 0) { Print("TradeAlertsBridge: unknown timeframe ", tfs[t]); return INIT_PARAMETERS_INCORRECT; }
         Series x;
         x.symbol = syms[s]; x.period = TF_PERIODS[k]; x.tf = TF_NAMES[k];
         x.handle = MakeIndicator(x.symbol, x.period);
         x.last_bar = 0; x.next_try = 0; x.delay = 1;
         if(x.handle == INVALID_HANDLE)
           { Print("TradeAlertsBridge: cannot load ", InpIndicator, " on ", x.symbol, " ", x.tf); return INIT_FAILED; }
         int n = ArraySize(series);
         ArrayResize(series, n + 1);
         series[n] = x;
        }
   EventSetTimer(1);   // all work happens in OnTimer: OnInit returns at once
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   for(int i = 0; i < ArraySize(series); i++)
      IndicatorRelease(series[i].handle);
  }

//+------------------------------------------------------------------+
//| One request per tick: the first series that has something to send |
//+------------------------------------------------------------------+
void OnTimer()
  {
   datetime now = TimeLocal();
   for(int i = 0; i < ArraySize(series); i++)
     {
      if(series[i].next_try > now)
         continue;
      datetime closed = iTime(series[i].symbol, series[i].period, 1);   // last closed bar
      if(closed == 0 || closed == series[i].last_bar)
         continue;
      int count = InpHistoryBars;          // on start: the history
      if(series[i].last_bar != 0)
        {
         // the bars closed since the last send (more than one if the server was away)
         int missed = iBarShift(series[i].symbol, series[i].period, series[i].last_bar) - 1;
         count = MathMax(InpResendBars, missed + InpResendBars);
        }
      count = MathMin(count, 5000);        // the endpoint's limit per request
      // and its 2 MiB: a bar is at most ~32 bytes + 24 per buffer (EMPTY_VALUE is 22 digits)
      count = MathMin(count, 2000000 / (32 + 24 * ArraySize(buffers)));
      if(Send(series[i], count))
        { series[i].last_bar = closed; series[i].delay = 1; }
      else
        {
         series[i].next_try = now + series[i].delay;            // back-off, doubling to 60 s
         series[i].delay = MathMin(series[i].delay * 2, 60);
        }
      return;
     }
  }

//+------------------------------------------------------------------+
//| POST the last `count` closed bars of every buffer of one series    |
//+------------------------------------------------------------------+
bool Send(Series &x, int count)
  {
   // never more than the chart and the indicator hold: with a short history (a new symbol,
   // the terminal's "Max bars in chart") asking for InpHistoryBars failed on every retry
   int have = MathMin(BarsCalculated(x.handle), Bars(x.symbol, x.period)) - 1;
   if(have < 1)
      return false;                        // the indicator is still calculating: retry later
   count = MathMin(count, have);
   datetime times[];
   if(CopyTime(x.symbol, x.period, 1, count, times) != count)
      return false;
   int nb = ArraySize(buffers);
   double cols[];                          // buffer b, bar j at cols[b * count + j]
   ArrayResize(cols, nb * count);
   for(int b = 0; b < nb; b++)
     {
      double col[];
      if(CopyBuffer(x.handle, buffers[b], 1, count, col) != count)
         return false;
      for(int j = 0; j < count; j++)
         cols[b * count + j] = col[j];     // col[] is oldest first, like times[]
     }
   long offset = UtcOffsetSeconds();
   string body = "{\"symbol\":\"" + x.symbol + "\",\"timeframe\":\"" + x.tf +
                 "\",\"indicator\":\"" + JsonEscape(InpIndicator) + "\",\"buffers\":" + buffers_json +
                 ",\"bars\":[";
   for(int j = 0; j < count; j++)
     {
      body += (j ? "," : "") + "{\"time\":" + IntegerToString((long)times[j] - offset) + ",\"values\":[";
      for(int b = 0; b < nb; b++)
         body += (b ? "," : "") + Number(cols[b * count + j]);
      body += "]}";
     }
   body += "]}";
   return Post(body, x);
  }

bool Post(string body, Series &x)
  {
   char data[], result[];
   string headers = "Content-Type: application/json\r\nAuthorization: Bearer " + InpToken + "\r\n";
   string answer_headers;
   StringToCharArray(body, data, 0, StringLen(body), CP_UTF8);   // no trailing NUL
   ResetLastError();
   int status = WebRequest("POST", InpServerUrl + "/api/ingest/indicators", headers, InpTimeoutMs,
                           data, result, answer_headers);
   if(status == -1)
     {
      // 4014: the URL is not in Tools > Options > Expert Advisors > WebRequest list
      Print("TradeAlertsBridge: WebRequest failed, error ", GetLastError(), " (", x.symbol, " ", x.tf, ")");
      return false;
     }
   if(status == 200)
      return true;
   // 4xx: the server says what is wrong in {"error": {"code", "message"}}; it is logged and
   // retried with back-off (a fixed setting, e.g. the buffer map, makes it pass)
   Print("TradeAlertsBridge: ", status, " ", CharArrayToString(result, 0, WHOLE_ARRAY, CP_UTF8));
   return false;
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

// Broker (server) time minus UTC, in seconds: MT5 bar times are broker time.
long UtcOffsetSeconds()
  {
   if(InpUtcOffsetMin >= 0)
      return (long)InpUtcOffsetMin * 60;
   long diff = (long)(TimeTradeServer() - TimeGMT());
   return (long)(MathRound(diff / 900.0) * 900);   // brokers use whole quarter hours
  }

// A buffer value as JSON: EMPTY_VALUE as itself, a non-number as null (nothing on the bar).
string Number(double v)
  {
   if(v == EMPTY_VALUE)
      return "1.7976931348623157e308";
   if(!MathIsValidNumber(v))
      return "null";
   return DoubleToString(v, 8);
  }

string JsonEscape(string s)
  {
   StringReplace(s, "\\", "\\\\");
   StringReplace(s, "\"", "\\\"");
   return s;
  }
//+------------------------------------------------------------------+
