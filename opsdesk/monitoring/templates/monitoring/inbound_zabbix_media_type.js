// opsdesk: the script of a Zabbix media type of type "Webhook" (Zabbix 5.0 and later).
// Parameters of the media type (name = value):
//   url = https://opsdesk.example.com/api/monitoring/inbound/zabbix/
//   token = <the integration's token>
//   event_id = {EVENT.ID}                   event_value = {EVENT.VALUE}
//   event_severity = {EVENT.SEVERITY}       event_nseverity = {EVENT.NSEVERITY}
//   event_name = {EVENT.NAME}               event_update_status = {EVENT.UPDATE.STATUS}
//   event_date = {EVENT.DATE}               event_time = {EVENT.TIME}
//   recovery_date = {EVENT.RECOVERY.DATE}   recovery_time = {EVENT.RECOVERY.TIME}
//   event_tags = {EVENT.TAGSJSON}           event_opdata = {EVENT.OPDATA}
//   trigger_id = {TRIGGER.ID}               trigger_name = {TRIGGER.NAME}
//   trigger_description = {TRIGGER.DESCRIPTION}
//   host = {HOST.HOST}                      host_name = {HOST.NAME}          host_ip = {HOST.IP}
//   event_timezone = Asia/Shanghai          (the Zabbix server's time zone)
var params = JSON.parse(value);
var url = params.url;
var token = params.token;
delete params.url;
delete params.token;
if (!url || !token) {
    throw 'opsdesk: the media type needs the parameters url and token';
}
var request = new HttpRequest();
request.addHeader('Content-Type: application/json');
request.addHeader('Authorization: Bearer ' + token);
if (params.HTTPProxy) {
    request.setProxy(params.HTTPProxy);
    delete params.HTTPProxy;
}
Zabbix.log(4, '[opsdesk] event ' + params.event_id + ' value ' + params.event_value);
var response = request.post(url, JSON.stringify(params));
var status = request.getStatus();
if (status !== 200) {
    throw 'opsdesk answered ' + status + ': ' + response;
}
return 'OK';
