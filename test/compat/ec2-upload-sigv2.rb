# A PUT or GET the way ec2-upload-bundle / ec2-download-bundle 1.5.3 sent them with Signature Version 2
# (lib/ec2/common/headers.rb and s3support.rb): Ruby's OpenSSL HMAC-SHA1 over
#   VERB \n content-md5 \n content-type \n date \n x-amz-* headers (sorted, "name:value\n") path
# with the key CGI-escaped into a path-style URL (so `/` in a key goes as %2F), Content-MD5 and
# x-amz-acl on uploads, and the tools' default Content-Type. For the tests of the S3 front's SigV2.
# Usage: ruby ec2-upload-sigv2.rb PUT|GET ENDPOINT BUCKET KEY FILE ACL ACCESS_KEY SECRET  -> one line of JSON
require 'base64'
require 'cgi'
require 'digest/md5'
require 'json'
require 'net/http'
require 'openssl'
require 'time'
require 'uri'

verb, endpoint, bucket, key, file, acl, access_key, secret = ARGV
path = "/#{bucket}/#{CGI.escape(key)}"
headers = { 'date' => Time.now.httpdate, 'content-type' => 'application/x-www-form-urlencoded' }
data = nil
if verb == 'PUT'
  data = File.binread(file)
  headers['content-md5'] = Base64.strict_encode64(Digest::MD5.digest(data))
  headers['x-amz-acl'] = acl
end
string_to_sign = "#{verb}\n" + %w[content-md5 content-type date].map { |name| "#{headers.fetch(name, '')}\n" }.join
headers.keys.sort.each { |name| string_to_sign += "#{name}:#{headers[name]}\n" if name.start_with?('x-amz') }
string_to_sign += path
headers['authorization'] = "AWS #{access_key}:#{Base64.strict_encode64(OpenSSL::HMAC.digest('sha1', secret, string_to_sign))}"

uri = URI(endpoint)
response = Net::HTTP.start(uri.host, uri.port) do |http|
  request = verb == 'PUT' ? Net::HTTP::Put.new(path, headers) : Net::HTTP::Get.new(path, headers)
  request.body = data if data
  http.request(request)
end
File.binwrite(file, response.body) if verb == 'GET' && response.code == '200'
puts JSON.generate('status' => response.code.to_i, 'body' => verb == 'GET' && response.code == '200' ? '' : response.body.to_s, 'string_to_sign' => string_to_sign)
